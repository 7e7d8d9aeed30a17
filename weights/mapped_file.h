// A whole file mapped into memory (private, copy-on-write): the keeper of zero-copy tensor views.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tern {

class MappedFile {
 public:
  // Maps `path` (opened read-only). Writes through a view stay private to this process (MAP_PRIVATE), so a
  // parameter updated in place never touches the file and never faults.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  // Maps the file behind an open descriptor (not taken over; the caller still closes it).
  static std::shared_ptr<MappedFile> from_fd(int fd, const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace tern
