// Committed-lines writers: what a reader of the output sees is always whole lines.
//   - LineWriter appends complete lines with write(2); on a write error (disk full) the file is cut back
//     to its last complete line. Opened for resuming, it first cuts a torn last line left by a crash and
//     reports how many complete lines the file holds, so a run can go on after them.
//   - write_file_atomic: a whole file written to a temporary name and renamed into place.
#pragma once
#include <cstdint>
#include <string>

namespace tern::infer {

class LineWriter {
 public:
  enum class Mode { Truncate, Append, Resume };
  LineWriter() = default;
  // "-" = stdout (never truncated or resumed). Resume: an existing file's torn last line is cut; a
  // missing file is created.
  LineWriter(const std::string& path, Mode mode);
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;
  LineWriter(LineWriter&& o) noexcept;
  LineWriter& operator=(LineWriter&& o) noexcept;

  bool is_open() const { return fd_ >= 0; }
  // Writes `buf`, which must hold complete lines only ("...\n"). Throws tern::Error naming the file on a
  // write error, after cutting the file back to its last complete line.
  void write(const std::string& buf);
  // Complete lines in the file: those found when resuming plus those written since.
  int64_t lines() const { return lines_; }
  const std::string& name() const { return name_; }
  // Flushes to the disk (fdatasync; not with sync = false) and closes; throws on an error.
  void close(bool sync = true);
  // The file's complete lines found at open (Resume / Append); used to skip what is already done.
  int64_t lines_at_open() const { return lines_at_open_; }

 private:
  int fd_ = -1;
  bool owned_ = false, regular_ = false;
  std::string name_;
  int64_t committed_ = 0;  // bytes of complete lines in the file
  int64_t lines_ = 0, lines_at_open_ = 0;
};

// Reads the complete lines of a text file (a torn last line is ignored); a missing file gives none.
std::string read_complete_lines(const std::string& path);

// Writes `bytes` to `path` through a temporary file in the same folder, fsynced and renamed into place.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace tern::infer
