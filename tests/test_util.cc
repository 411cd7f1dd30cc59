#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "formats/safetensors.h"

namespace moeasr::test {

std::string data_path(const std::string& relative) { return std::string(MOEASR_TEST_DATA_DIR) + "/" + relative; }

// tests/data/../.. is the repository root.
std::string repo_path(const std::string& relative) {
  return (std::filesystem::path(MOEASR_TEST_DATA_DIR) / ".." / ".." / relative).lexically_normal().string();
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "moeasr_test_XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

RawTensor f32_tensor(std::vector<int64_t> shape, float fill) {
  RawTensor t;
  t.shape = shape;
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  std::vector<float> v(n, fill);
  t.bytes.assign(reinterpret_cast<const char*>(v.data()), n * sizeof(float));
  return t;
}

std::string safetensors_from_header(const std::string& header_json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header_json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header_json + data;
}

std::string safetensors_bytes(const std::map<std::string, RawTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  return safetensors_from_header(h, data);
}

std::map<std::string, GoldenTensor> read_golden(const std::string& path) {
  auto st = SafeTensors::open(path);
  std::map<std::string, GoldenTensor> out;
  for (const auto& info : st->tensors()) {
    Tensor t = st->get(info.name);
    if (t.dtype() != DType::kF32) throw std::runtime_error("golden tensor " + info.name + " is not F32");
    GoldenTensor g;
    g.shape = t.shape();
    g.data.assign(t.data<float>(), t.data<float>() + t.numel());
    out[info.name] = std::move(g);
  }
  return out;
}

}  // namespace moeasr::test
