// Reader for the safetensors format (https://github.com/huggingface/safetensors):
//   8 bytes little-endian u64 N | N bytes JSON header | data buffer
// The file is mmap'd; tensors are views into it (copied only if misaligned).
// Every entry is validated before any tensor is handed out: dtype, shape,
// byte range in bounds, size == numel * dtype size, no overlaps, no holes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace moeasr {

struct SafeTensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  size_t begin = 0;  // byte offsets into the data buffer
  size_t end = 0;
};

class SafeTensors {
 public:
  // The highest `moeasr_format_version` metadata value this runtime reads.
  static constexpr int kFormatVersion = 1;

  // Throws Error(MOEASR_ERR_IO) if the file cannot be read and
  // Error(MOEASR_ERR_FORMAT) with a precise message if it is malformed.
  static std::shared_ptr<const SafeTensors> open(const std::string& path);
  // Parses an in-memory image (used by tests and fuzzers); the bytes are copied.
  static std::shared_ptr<const SafeTensors> from_bytes(const std::string& bytes, const std::string& name);
  // Parses an image in memory owned by `owner` (not copied; kept alive by the views).
  static std::shared_ptr<const SafeTensors> from_buffer(std::shared_ptr<const void> owner, const unsigned char* bytes,
                                                        size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<SafeTensorInfo>& tensors() const { return infos_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const SafeTensorInfo* find(const std::string& name) const;
  // A view of the tensor's bytes (or an aligned copy). Throws if absent.
  Tensor get(const std::string& name) const;

 private:
  SafeTensors() = default;
  void parse(const unsigned char* bytes, size_t size);

  std::string path_;
  std::shared_ptr<const void> owner_;  // keeps the mapping (or byte copy) alive
  const unsigned char* data_ = nullptr;  // start of the data buffer
  std::vector<SafeTensorInfo> infos_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace moeasr
