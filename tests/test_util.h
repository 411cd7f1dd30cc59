// Helpers shared by the unit tests: fixture paths, temp dirs, a safetensors
// writer for building (corrupt) weight files, and golden-file access.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "moeasr/moeasr.h"

namespace moeasr::test {

// Absolute path of a file under tests/data.
std::string data_path(const std::string& relative);
// Path of a file relative to the repository root (models/, samples/).
std::string repo_path(const std::string& relative);
// A number in scientific notation with 3 significant digits, for messages.
std::string sci(double v);
// The largest |a[i] - b[i]|, in double; infinity when the sizes differ, so
// that any tolerance check fails.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

// A fresh empty directory, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes);
void copy_file(const std::string& from, const std::string& to);

// One tensor for the writer: dtype name as in safetensors, shape, raw bytes.
struct RawTensor {
  std::string dtype = "F32";
  std::vector<int64_t> shape;
  std::string bytes;
};
RawTensor f32_tensor(std::vector<int64_t> shape, float fill = 0.f);

// Serializes tensors (contiguous, in map order) into a safetensors image.
std::string safetensors_bytes(const std::map<std::string, RawTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
// Builds an image from a raw JSON header and data buffer (for corrupt files).
std::string safetensors_from_header(const std::string& header_json, const std::string& data);

// Reads every tensor of a safetensors file into name -> (shape, data) as F32.
struct GoldenTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
std::map<std::string, GoldenTensor> read_golden(const std::string& path);

// Runs `fn` and returns the moeasr::Error status it threw (MOEASR_OK if none),
// storing the message in *message when given.
template <typename Fn>
moeasr_status status_of(Fn&& fn, std::string* message = nullptr);

}  // namespace moeasr::test

#include "test_util_inl.h"
