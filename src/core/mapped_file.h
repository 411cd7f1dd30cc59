// A read-only memory map of a whole file (weights are never copied when the
// stored type is the compute type).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace moeasr {

class MappedFile {
 public:
  // Throws Error(MOEASR_ERR_IO) when the file cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Reads a whole (small) text or binary file; throws Error(MOEASR_ERR_IO).
std::string read_file(const std::string& path);

}  // namespace moeasr
