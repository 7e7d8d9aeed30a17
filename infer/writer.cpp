#include "infer/writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/check.h"

namespace tern::infer {

LineWriter::LineWriter(const std::string& path, Mode mode) {
  if (path == "-") {
    // stdout may be redirected into a file (appended to): a write error cuts it back to its last complete
    // line after the offset where this output began.
    name_ = "<stdout>";
    fd_ = STDOUT_FILENO;
    struct stat st;
    regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    if (regular_) committed_ = std::max<int64_t>(0, ::lseek(fd_, 0, SEEK_CUR));
    return;
  }
  name_ = path;
  int flags = O_RDWR | O_CREAT | O_CLOEXEC;
  if (mode == Mode::Truncate) flags |= O_TRUNC;
  fd_ = ::open(path.c_str(), flags, 0666);
  TERN_CHECK(fd_ >= 0, path << ": cannot open for writing: " << std::strerror(errno));
  owned_ = true;
  struct stat st;
  TERN_CHECK(::fstat(fd_, &st) == 0, path << ": " << std::strerror(errno));
  regular_ = S_ISREG(st.st_mode);
  if (mode != Mode::Truncate && regular_ && st.st_size > 0) {
    // Find the end of the last complete line, counting lines; cut whatever follows it.
    std::string chunk(1 << 20, '\0');
    int64_t off = 0, last_nl_end = 0, lines = 0;
    for (;;) {
      const ssize_t n = ::pread(fd_, chunk.data(), chunk.size(), off);
      TERN_CHECK(n >= 0, path << ": read error: " << std::strerror(errno));
      if (n == 0) break;
      for (ssize_t i = 0; i < n; ++i)
        if (chunk[static_cast<size_t>(i)] == '\n') ++lines, last_nl_end = off + i + 1;
      off += n;
    }
    if (last_nl_end != off)
      TERN_CHECK(::ftruncate(fd_, last_nl_end) == 0,
                 path << ": cannot cut the torn last line: " << std::strerror(errno));
    committed_ = last_nl_end;
    lines_ = lines_at_open_ = lines;
  }
  if (regular_) TERN_CHECK(::lseek(fd_, committed_, SEEK_SET) >= 0, path << ": " << std::strerror(errno));
}

LineWriter::~LineWriter() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

LineWriter::LineWriter(LineWriter&& o) noexcept {
  *this = std::move(o);
}
LineWriter& LineWriter::operator=(LineWriter&& o) noexcept {
  if (this != &o) {
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = o.fd_, owned_ = o.owned_, regular_ = o.regular_, name_ = std::move(o.name_);
    committed_ = o.committed_, lines_ = o.lines_, lines_at_open_ = o.lines_at_open_;
    o.fd_ = -1, o.owned_ = false;
  }
  return *this;
}

void LineWriter::write(const std::string& buf) {
  TERN_CHECK(fd_ >= 0, "write to a closed output");
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::write(fd_, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // Keep the complete lines of what reached the file, cut the rest.
      size_t keep = 0;
      int64_t kept_lines = 0;
      for (size_t i = 0; i < done; ++i)
        if (buf[i] == '\n') keep = i + 1, ++kept_lines;
      lines_ += kept_lines;
      std::string what;
      if (regular_) {
        if (::ftruncate(fd_, committed_ + static_cast<int64_t>(keep)) == 0)
          what = "; the file keeps its first " + std::to_string(lines_) + " lines, each complete";
        else
          what = std::string("; could not cut the partial last line: ") + std::strerror(errno);
      }
      TERN_FAIL(name_ << ": write error: " << std::strerror(err) << what);
    }
    done += static_cast<size_t>(n);
  }
  for (char c : buf) lines_ += c == '\n';
  committed_ += static_cast<int64_t>(buf.size());
}

void LineWriter::close(bool sync) {
  if (!owned_ || fd_ < 0) return;
  if (regular_ && sync)
    TERN_CHECK(::fdatasync(fd_) == 0, name_ << ": write error on sync: " << std::strerror(errno));
  const int rc = ::close(fd_);
  fd_ = -1;
  TERN_CHECK(rc == 0, name_ << ": write error on close: " << std::strerror(errno));
}

std::string read_complete_lines(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::string s;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  const size_t p = s.rfind('\n');
  s.resize(p == std::string::npos ? 0 : p + 1);
  return s;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  TERN_CHECK(fd >= 0, path << ": cannot create " << tmp << ": " << std::strerror(errno));
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    TERN_FAIL(path << ": write error: " << std::strerror(err));
  }
}

}  // namespace tern::infer
