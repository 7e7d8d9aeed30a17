#include "weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tensor/check.h"

namespace tern {

std::shared_ptr<MappedFile> MappedFile::from_fd(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) TERN_FAIL(path << ": cannot stat: " << std::strerror(errno));
  if (!S_ISREG(st.st_mode)) TERN_FAIL(path << ": not a regular file");
  auto m = std::shared_ptr<MappedFile>(new MappedFile());
  m->path_ = path;
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ == 0) return m;  // nothing to map; data() stays null
  void* p = mmap(nullptr, m->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) TERN_FAIL(path << ": cannot map " << m->size_ << " bytes: " << std::strerror(errno));
  m->data_ = static_cast<uint8_t*>(p);
  return m;
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) TERN_FAIL(path << ": cannot open: " << std::strerror(errno));
  try {
    auto m = from_fd(fd, path);
    ::close(fd);
    return m;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

MappedFile::~MappedFile() {
  if (data_) munmap(data_, size_);
}

}  // namespace tern
