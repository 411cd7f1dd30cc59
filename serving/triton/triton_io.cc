#include "serving/triton/triton_io.h"

#include <cstring>

namespace moeasr::triton {
namespace {

// Copies the whole content of `input` (which may arrive in several buffers)
// into `out`; the buffers must be in CPU memory, where this backend asks for them.
TRITONSERVER_Error* copy_input(TRITONBACKEND_Input* input, const char* name, uint64_t byte_size, uint32_t buffers,
                               void* out) {
  uint64_t offset = 0;
  for (uint32_t b = 0; b < buffers; ++b) {
    const void* data = nullptr;
    uint64_t size = 0;
    TRITONSERVER_MemoryType memory_type = TRITONSERVER_MEMORY_CPU;
    int64_t memory_id = 0;
    TRITONSERVER_Error* err = TRITONBACKEND_InputBuffer(input, b, &data, &size, &memory_type, &memory_id);
    if (err != nullptr) return err;
    if (memory_type == TRITONSERVER_MEMORY_GPU) {
      return make_error(TRITONSERVER_ERROR_UNSUPPORTED,
                        std::string("input ") + name + " is in GPU memory; the moeasr backend reads audio from CPU memory");
    }
    if (offset + size > byte_size) return make_error(TRITONSERVER_ERROR_INTERNAL, std::string("input ") + name + ": buffers exceed its size");
    std::memcpy(static_cast<char*>(out) + offset, data, size);
    offset += size;
  }
  if (offset != byte_size) return make_error(TRITONSERVER_ERROR_INTERNAL, std::string("input ") + name + ": buffers short of its size");
  return nullptr;
}

struct InputView {
  TRITONBACKEND_Input* input = nullptr;
  TRITONSERVER_DataType type = TRITONSERVER_TYPE_INVALID;
  uint64_t byte_size = 0;
  uint32_t buffers = 0;
  int64_t elements = 1;
  int64_t rows = 1;  // the leading (batch) dimension of a tensor of two or more dimensions
};

// *found = false (and no error) when the request has no input `name`.
TRITONSERVER_Error* find_input(TRITONBACKEND_Request* request, const char* name, InputView* view, bool* found) {
  *found = false;
  uint32_t count = 0;
  TRITONSERVER_Error* err = TRITONBACKEND_RequestInputCount(request, &count);
  if (err != nullptr) return err;
  for (uint32_t i = 0; i < count; ++i) {
    const char* input_name = nullptr;
    if ((err = TRITONBACKEND_RequestInputName(request, i, &input_name)) != nullptr) return err;
    if (std::strcmp(input_name, name) != 0) continue;
    if ((err = TRITONBACKEND_RequestInput(request, name, &view->input)) != nullptr) return err;
    const int64_t* shape = nullptr;
    uint32_t dims = 0;
    if ((err = TRITONBACKEND_InputProperties(view->input, nullptr, &view->type, &shape, &dims, &view->byte_size,
                                             &view->buffers)) != nullptr) {
      return err;
    }
    view->elements = 1;
    for (uint32_t d = 0; d < dims; ++d) view->elements *= shape[d];
    view->rows = dims >= 2 ? shape[0] : 1;
    *found = true;
    return nullptr;
  }
  return nullptr;
}

// Reads a one-value control or parameter input as int64 (*found = false if absent).
TRITONSERVER_Error* read_scalar(TRITONBACKEND_Request* request, const char* name, int64_t* value, bool* found) {
  InputView view;
  TRITONSERVER_Error* err = find_input(request, name, &view, found);
  if (err != nullptr || !*found) return err;
  if (view.elements != 1) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG,
                      std::string("input ") + name + " must hold one value, got " + std::to_string(view.elements));
  }
  unsigned char raw[8] = {0};
  size_t width = TRITONSERVER_DataTypeByteSize(view.type);
  if (width == 0 || width > sizeof(raw) || view.byte_size != width) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG, std::string("input ") + name + " must be an integer or boolean scalar");
  }
  if ((err = copy_input(view.input, name, view.byte_size, view.buffers, raw)) != nullptr) return err;
  switch (view.type) {
    case TRITONSERVER_TYPE_BOOL:
    case TRITONSERVER_TYPE_UINT8: *value = raw[0]; break;
    case TRITONSERVER_TYPE_INT8: *value = static_cast<int8_t>(raw[0]); break;
    case TRITONSERVER_TYPE_INT32: { int32_t v; std::memcpy(&v, raw, 4); *value = v; break; }
    case TRITONSERVER_TYPE_UINT32: { uint32_t v; std::memcpy(&v, raw, 4); *value = v; break; }
    case TRITONSERVER_TYPE_INT64: { int64_t v; std::memcpy(&v, raw, 8); *value = v; break; }
    case TRITONSERVER_TYPE_UINT64: { uint64_t v; std::memcpy(&v, raw, 8); *value = static_cast<int64_t>(v); break; }
    default:
      return make_error(TRITONSERVER_ERROR_INVALID_ARG, std::string("input ") + name + " has type " +
                                                            TRITONSERVER_DataTypeString(view.type) +
                                                            "; expected an integer or boolean");
  }
  return nullptr;
}

}  // namespace

TRITONSERVER_Error* make_error(TRITONSERVER_Error_Code code, const std::string& message) {
  return TRITONSERVER_ErrorNew(code, message.c_str());
}

TRITONSERVER_Error* read_audio(TRITONBACKEND_Request* request, int32_t default_rate, AudioPiece* out) {
  InputView f32, i16;
  bool has_f32 = false, has_i16 = false;
  TRITONSERVER_Error* err = find_input(request, "WAV", &f32, &has_f32);
  if (err == nullptr) err = find_input(request, "WAV_INT16", &i16, &has_i16);
  if (err != nullptr) return err;
  if (has_f32 == has_i16) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG,
                      has_f32 ? "the request has both WAV and WAV_INT16; send the audio in one of them"
                              : "the request has no audio: send input WAV (FP32 samples in [-1, 1]) or WAV_INT16");
  }
  out->is_int16 = has_i16;
  const InputView& view = has_i16 ? i16 : f32;
  const TRITONSERVER_DataType want = has_i16 ? TRITONSERVER_TYPE_INT16 : TRITONSERVER_TYPE_FP32;
  const char* name = has_i16 ? "WAV_INT16" : "WAV";
  if (view.rows != 1) {
    // One utterance or piece per request: Triton's batchers put requests together.
    return make_error(TRITONSERVER_ERROR_INVALID_ARG, std::string("input ") + name + " has " +
                                                          std::to_string(view.rows) +
                                                          " rows; send one audio piece per request (shape [1, n])");
  }
  if (view.type != want) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG, std::string("input ") + name + " has type " +
                                                          TRITONSERVER_DataTypeString(view.type) + "; expected " +
                                                          TRITONSERVER_DataTypeString(want));
  }
  void* dst = nullptr;
  if (has_i16) {
    out->pcm16.resize(view.byte_size / sizeof(int16_t));
    dst = out->pcm16.data();
  } else {
    out->samples.resize(view.byte_size / sizeof(float));
    dst = out->samples.data();
  }
  if (view.byte_size > 0 && (err = copy_input(view.input, name, view.byte_size, view.buffers, dst)) != nullptr) {
    return err;
  }
  int64_t rate = default_rate;
  bool has_rate = false;
  if ((err = read_scalar(request, "SAMPLE_RATE", &rate, &has_rate)) != nullptr) return err;
  if (rate <= 0 || rate > 1000000) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG, "SAMPLE_RATE " + std::to_string(rate) + " is not a sample rate in Hz");
  }
  out->sample_rate = static_cast<int32_t>(rate);
  return nullptr;
}

TRITONSERVER_Error* read_control(TRITONBACKEND_Request* request, SequenceControl* out) {
  uint32_t flags = 0;
  TRITONSERVER_Error* err = TRITONBACKEND_RequestFlags(request, &flags);
  if (err != nullptr) return err;
  out->start = (flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_START) != 0;
  out->end = (flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_END) != 0;
  int64_t value = 0;
  bool found = false;
  if ((err = read_scalar(request, "START", &value, &found)) != nullptr) return err;
  if (found) out->start = value != 0;
  if ((err = read_scalar(request, "END", &value, &found)) != nullptr) return err;
  if (found) out->end = value != 0;
  // CORRID: a string id arrives as a BYTES tensor (4-byte length, then the bytes).
  InputView corrid;
  if ((err = find_input(request, "CORRID", &corrid, &found)) != nullptr) return err;
  if (found && corrid.type == TRITONSERVER_TYPE_BYTES) {
    std::vector<char> raw(corrid.byte_size);
    if ((err = copy_input(corrid.input, "CORRID", corrid.byte_size, corrid.buffers, raw.data())) != nullptr) return err;
    uint32_t length = 0;
    if (raw.size() < 4 || (std::memcpy(&length, raw.data(), 4), length > raw.size() - 4)) {
      return make_error(TRITONSERVER_ERROR_INVALID_ARG, "input CORRID: malformed string");
    }
    out->id = "s:" + std::string(raw.data() + 4, length);
    return nullptr;
  }
  if (found) {
    if ((err = read_scalar(request, "CORRID", &value, &found)) != nullptr) return err;
    out->id = "u:" + std::to_string(static_cast<uint64_t>(value));
    return nullptr;
  }
  // No CORRID input: the request's own id (a string id if the client sent one).
  uint64_t id = 0;
  if ((err = TRITONBACKEND_RequestCorrelationId(request, &id)) == nullptr) {
    out->id = "u:" + std::to_string(id);
    return nullptr;
  }
  TRITONSERVER_ErrorDelete(err);
  const char* sid = nullptr;
  if ((err = TRITONBACKEND_RequestCorrelationIdString(request, &sid)) != nullptr) return err;
  out->id = std::string("s:") + sid;
  return nullptr;
}

TRITONSERVER_Error* requested_outputs(TRITONBACKEND_Request* request, std::set<std::string>* out) {
  uint32_t count = 0;
  TRITONSERVER_Error* err = TRITONBACKEND_RequestOutputCount(request, &count);
  if (err != nullptr) return err;
  for (uint32_t i = 0; i < count; ++i) {
    const char* name = nullptr;
    if ((err = TRITONBACKEND_RequestOutputName(request, i, &name)) != nullptr) return err;
    out->insert(name);
  }
  return nullptr;
}

TRITONSERVER_Error* ResponseWriter::output(const char* name, TRITONSERVER_DataType type, int64_t n, size_t bytes,
                                           void** buffer) {
  int64_t shape[2] = {1, n};
  TRITONBACKEND_Output* out = nullptr;
  TRITONSERVER_Error* err =
      TRITONBACKEND_ResponseOutput(response_, &out, name, type, batch_dim_ ? shape : shape + 1, batch_dim_ ? 2 : 1);
  if (err != nullptr) return err;
  TRITONSERVER_MemoryType memory_type = TRITONSERVER_MEMORY_CPU;
  int64_t memory_id = 0;
  // Triton wants a buffer even for zero bytes; ask for one byte then.
  if ((err = TRITONBACKEND_OutputBuffer(out, buffer, bytes == 0 ? 1 : bytes, &memory_type, &memory_id)) != nullptr) {
    return err;
  }
  if (memory_type == TRITONSERVER_MEMORY_GPU) {
    return make_error(TRITONSERVER_ERROR_INTERNAL, std::string("output ") + name + " was placed in GPU memory");
  }
  return nullptr;
}

TRITONSERVER_Error* ResponseWriter::bytes(const char* name, const std::string& value) {
  void* buffer = nullptr;
  TRITONSERVER_Error* err = output(name, TRITONSERVER_TYPE_BYTES, 1, 4 + value.size(), &buffer);
  if (err != nullptr) return err;
  uint32_t length = static_cast<uint32_t>(value.size());
  std::memcpy(buffer, &length, 4);
  std::memcpy(static_cast<char*>(buffer) + 4, value.data(), value.size());
  return nullptr;
}

TRITONSERVER_Error* ResponseWriter::boolean(const char* name, bool value) {
  void* buffer = nullptr;
  TRITONSERVER_Error* err = output(name, TRITONSERVER_TYPE_BOOL, 1, 1, &buffer);
  if (err != nullptr) return err;
  *static_cast<uint8_t*>(buffer) = value ? 1 : 0;
  return nullptr;
}

TRITONSERVER_Error* ResponseWriter::int32s(const char* name, const int32_t* values, size_t n) {
  void* buffer = nullptr;
  TRITONSERVER_Error* err = output(name, TRITONSERVER_TYPE_INT32, static_cast<int64_t>(n), n * 4, &buffer);
  if (err != nullptr) return err;
  if (n > 0) std::memcpy(buffer, values, n * 4);
  return nullptr;
}

}  // namespace moeasr::triton
