// Reading a request's tensors and writing a response's, for the moeasr
// backend: audio pieces (float32 or int16), the sequence batcher's control
// tensors, and the result outputs. Every failure is a TRITONSERVER_Error that
// names the tensor, which the backend sends back as that request's error.
#ifndef MOEASR_SERVING_TRITON_TRITON_IO_H_
#define MOEASR_SERVING_TRITON_TRITON_IO_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "triton/core/tritonbackend.h"

namespace moeasr::triton {

// A new error of `code` (caller owns it, as Triton's API expects).
TRITONSERVER_Error* make_error(TRITONSERVER_Error_Code code, const std::string& message);

// One request's audio, from input "WAV" (TYPE_FP32, samples in [-1, 1]) or
// "WAV_INT16" (TYPE_INT16): exactly one of the two. Its sample rate comes from
// the optional input "SAMPLE_RATE" (INT32, one value), else `default_rate`.
struct AudioPiece {
  std::vector<float> samples;  // float input, copied
  std::vector<int16_t> pcm16;  // int16 input, copied
  bool is_int16 = false;
  int32_t sample_rate = 0;
  size_t size() const { return is_int16 ? pcm16.size() : samples.size(); }
};
TRITONSERVER_Error* read_audio(TRITONBACKEND_Request* request, int32_t default_rate, AudioPiece* out);

// The sequence of a request: its correlation id (input "CORRID", UINT64 or
// STRING; else the request's own correlation id) and flags (inputs "START",
// "END", "READY", one value each, nonzero = set; else the request's flags).
struct SequenceControl {
  std::string id;
  bool start = false;
  bool end = false;
};
TRITONSERVER_Error* read_control(TRITONBACKEND_Request* request, SequenceControl* out);

// The names of the outputs the request asked for (Triton returns only those).
TRITONSERVER_Error* requested_outputs(TRITONBACKEND_Request* request, std::set<std::string>* out);

// Outputs, each with the leading batch dimension 1 when the model batches.
class ResponseWriter {
 public:
  ResponseWriter(TRITONBACKEND_Response* response, bool batch_dim) : response_(response), batch_dim_(batch_dim) {}
  TRITONSERVER_Error* bytes(const char* name, const std::string& value);
  TRITONSERVER_Error* boolean(const char* name, bool value);
  TRITONSERVER_Error* int32s(const char* name, const int32_t* values, size_t n);

 private:
  TRITONSERVER_Error* output(const char* name, TRITONSERVER_DataType type, int64_t n, size_t bytes, void** buffer);
  TRITONBACKEND_Response* response_;
  bool batch_dim_;
};

}  // namespace moeasr::triton

#endif  // MOEASR_SERVING_TRITON_TRITON_IO_H_
