#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace moeasr {

namespace {

// Headers of real models are a few hundred KB; anything far larger is corrupt
// (or hostile) and is rejected before it is parsed.
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;

bool parse_dtype(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> kTable[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"F64", DType::kF64},
      {"I8", DType::kI8},   {"U8", DType::kU8},   {"I16", DType::kI16},   {"I32", DType::kI32},
      {"I64", DType::kI64}, {"BOOL", DType::kBool}};
  for (const auto& [name, dtype] : kTable) {
    if (s == name) {
      *out = dtype;
      return true;
    }
  }
  return false;
}

}  // namespace

std::shared_ptr<const SafeTensors> SafeTensors::open(const std::string& path) {
  auto file = MappedFile::open(path);
  std::shared_ptr<SafeTensors> st(new SafeTensors());
  st->path_ = path;
  st->parse(file->data(), file->size());
  st->owner_ = file;
  return st;
}

std::shared_ptr<const SafeTensors> SafeTensors::from_bytes(const std::string& bytes, const std::string& name) {
  auto copy = std::make_shared<std::string>(bytes);
  std::shared_ptr<SafeTensors> st(new SafeTensors());
  st->path_ = name;
  st->parse(reinterpret_cast<const unsigned char*>(copy->data()), copy->size());
  st->owner_ = copy;
  return st;
}

std::shared_ptr<const SafeTensors> SafeTensors::from_buffer(std::shared_ptr<const void> owner,
                                                         const unsigned char* bytes, size_t size,
                                                         const std::string& name) {
  std::shared_ptr<SafeTensors> st(new SafeTensors());
  st->path_ = name;
  st->parse(bytes, size);
  st->owner_ = std::move(owner);
  return st;
}

void SafeTensors::parse(const unsigned char* bytes, size_t size) {
  const std::string& p = path_;
  MOEASR_CHECK(size >= 8, MOEASR_ERR_FORMAT, p, ": not a safetensors file (", size, " bytes, need at least 8)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  MOEASR_CHECK(header_len >= 2 && header_len <= kMaxHeaderBytes, MOEASR_ERR_FORMAT, p,
               ": bad safetensors header length ", header_len);
  MOEASR_CHECK(header_len <= size - 8, MOEASR_ERR_FORMAT, p, ": truncated: header claims ", header_len,
               " bytes but the file has ", size - 8, " after the length field");
  const char* hdr = reinterpret_cast<const char*>(bytes + 8);
  MOEASR_CHECK(hdr[0] == '{', MOEASR_ERR_FORMAT, p, ": safetensors header is not a JSON object");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hdr, hdr + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw_error(MOEASR_ERR_FORMAT, p, ": safetensors header is not valid JSON: ", e.what());
  }
  MOEASR_CHECK(header.is_object(), MOEASR_ERR_FORMAT, p, ": safetensors header is not a JSON object");

  data_ = bytes + 8 + header_len;
  const size_t data_size = size - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      MOEASR_CHECK(entry.is_object(), MOEASR_ERR_FORMAT, p, ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        MOEASR_CHECK(m.value().is_string(), MOEASR_ERR_FORMAT, p, ": __metadata__ value for '", m.key(),
                     "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    MOEASR_CHECK(entry.is_object(), MOEASR_ERR_FORMAT, p, ": entry '", name, "' is not an object");
    MOEASR_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), MOEASR_ERR_FORMAT, p, ": tensor '", name,
                 "' has no dtype");
    MOEASR_CHECK(entry.contains("shape") && entry["shape"].is_array(), MOEASR_ERR_FORMAT, p, ": tensor '", name,
                 "' has no shape");
    MOEASR_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                     entry["data_offsets"].size() == 2,
                 MOEASR_ERR_FORMAT, p, ": tensor '", name, "' has no data_offsets [begin, end]");
    SafeTensorInfo info;
    info.name = name;
    const std::string dtype = entry["dtype"].get<std::string>();
    MOEASR_CHECK(parse_dtype(dtype, &info.dtype), MOEASR_ERR_UNSUPPORTED, p, ": tensor '", name,
                 "' has unsupported dtype '", dtype, "'");
    MOEASR_CHECK(entry["shape"].size() <= 8, MOEASR_ERR_FORMAT, p, ": tensor '", name, "' has rank ",
                 entry["shape"].size());
    for (const auto& d : entry["shape"]) {
      MOEASR_CHECK(d.is_number_unsigned(), MOEASR_ERR_FORMAT, p, ": tensor '", name,
                   "' has a shape entry that is not a non-negative integer");
      uint64_t v = d.get<uint64_t>();
      MOEASR_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), MOEASR_ERR_FORMAT, p,
                   ": tensor '", name, "' dimension ", v, " is absurd");
      info.shape.push_back(static_cast<int64_t>(v));
    }
    for (const auto& o : entry["data_offsets"]) {
      MOEASR_CHECK(o.is_number_unsigned(), MOEASR_ERR_FORMAT, p, ": tensor '", name,
                   "' has a data offset that is not a non-negative integer");
    }
    const uint64_t begin = entry["data_offsets"][0].get<uint64_t>();
    const uint64_t end = entry["data_offsets"][1].get<uint64_t>();
    MOEASR_CHECK(begin <= end, MOEASR_ERR_FORMAT, p, ": tensor '", name, "' has data_offsets [", begin, ", ", end,
                 "] with begin > end");
    MOEASR_CHECK(end <= data_size, MOEASR_ERR_FORMAT, p, ": tensor '", name, "' data [", begin, ", ", end,
                 ") is out of range: the data buffer has ", data_size, " bytes (file truncated?)");
    // numel * dtype size, with overflow checks, must equal the byte range.
    uint64_t expected = dtype_size(info.dtype);
    for (int64_t d : info.shape) {
      if (d != 0 && expected > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
        throw_error(MOEASR_ERR_FORMAT, p, ": tensor '", name, "' shape ", shape_string(info.shape), " is absurd");
      }
      expected *= static_cast<uint64_t>(d);
    }
    MOEASR_CHECK(end - begin == expected, MOEASR_ERR_FORMAT, p, ": tensor '", name, "' of shape ",
                 shape_string(info.shape), " and dtype ", dtype, " needs ", expected, " bytes but its data_offsets [",
                 begin, ", ", end, ") hold ", end - begin);
    info.begin = static_cast<size_t>(begin);
    info.end = static_cast<size_t>(end);
    infos_.push_back(std::move(info));
  }

  // The buffer must be exactly covered: sorted by offset, each tensor starts
  // where the previous ended (zero-size tensors may share an offset).
  std::vector<const SafeTensorInfo*> by_offset;
  for (const auto& info : infos_) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(), [](const SafeTensorInfo* a, const SafeTensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  size_t cursor = 0;
  const SafeTensorInfo* previous = nullptr;
  for (const SafeTensorInfo* info : by_offset) {
    MOEASR_CHECK(info->begin >= cursor, MOEASR_ERR_FORMAT, p, ": tensor '", info->name, "' data [", info->begin,
                 ", ", info->end, ") overlaps tensor '", previous ? previous->name : "", "'");
    MOEASR_CHECK(info->begin == cursor, MOEASR_ERR_FORMAT, p, ": ", info->begin - cursor,
                 " unused bytes before tensor '", info->name, "' (holes are not allowed)");
    cursor = info->end;
    previous = info;
  }
  MOEASR_CHECK(cursor == data_size, MOEASR_ERR_FORMAT, p, ": ", data_size - cursor,
               " trailing bytes after the last tensor");

  for (size_t i = 0; i < infos_.size(); ++i) index_[infos_[i].name] = i;

  auto version = metadata_.find("moeasr_format_version");
  if (version != metadata_.end()) {
    int v = 0;
    try {
      v = std::stoi(version->second);
    } catch (const std::exception&) {
      throw_error(MOEASR_ERR_FORMAT, p, ": moeasr_format_version '", version->second, "' is not a number");
    }
    MOEASR_CHECK(v <= kFormatVersion, MOEASR_ERR_UNSUPPORTED, p, ": model format version ", v,
                 " is newer than this runtime supports (", kFormatVersion, "); upgrade moeasr");
  }
}

const SafeTensorInfo* SafeTensors::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &infos_[it->second];
}

Tensor SafeTensors::get(const std::string& name) const {
  const SafeTensorInfo* info = find(name);
  MOEASR_CHECK(info, MOEASR_ERR_FORMAT, path_, ": missing tensor '", name, "'");
  const unsigned char* ptr = data_ + info->begin;
  if (reinterpret_cast<uintptr_t>(ptr) % dtype_size(info->dtype) == 0) {
    return Tensor::view(ptr, info->shape, info->dtype, owner_);
  }
  Tensor copy(info->shape, info->dtype);  // misaligned: copy into an aligned buffer
  if (copy.nbytes()) std::memcpy(copy.raw(), ptr, copy.nbytes());
  return copy;
}

}  // namespace moeasr
