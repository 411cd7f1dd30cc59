// The Triton backend's reading of config.pbtxt (in the JSON form Triton gives
// backends), and its refusals.
#include "serving/triton/backend_config.h"

#include <gtest/gtest.h>

namespace moeasr::triton {
namespace {

BackendConfig parse_ok(const std::string& json) {
  BackendConfig c;
  std::string error;
  EXPECT_TRUE(parse_backend_config(json, "/repo/m", 3, &c, &error)) << error;
  return c;
}

std::string parse_error(const std::string& json) {
  BackendConfig c;
  std::string error;
  EXPECT_FALSE(parse_backend_config(json, "/repo/m", 3, &c, &error)) << json;
  return error;
}

std::string with_parameter(const std::string& key, const std::string& value) {
  return R"({"max_batch_size": 8, "parameters": {")" + key + R"(": {"string_value": ")" + value + R"("}}})";
}

TEST(TritonBackendConfig, StreamingConfigAndParameters) {
  const BackendConfig c = parse_ok(R"({
    "max_batch_size": 32,
    "sequence_batching": {"max_sequence_idle_microseconds": "2500000", "oldest": {"max_candidate_sequences": 64}},
    "parameters": {
      "model_dir": {"string_value": "../models/x"}, "chunk_size": {"string_value": "8"},
      "left_chunks": {"string_value": "4"}, "nbest": {"string_value": "5"}, "ctc_weight": {"string_value": "0.3"},
      "rescoring": {"string_value": "false"}, "threads": {"string_value": "2"},
      "compute_type": {"string_value": "int8"}, "sample_rate": {"string_value": "8000"},
      "continuous": {"string_value": "true"}}})");
  EXPECT_TRUE(c.streaming);
  EXPECT_EQ(c.max_batch_size, 32);
  EXPECT_EQ(c.max_sequence_idle_us, 2500000);
  EXPECT_EQ(c.model_dir, "/repo/m/../models/x");
  EXPECT_EQ(c.stream.chunk_size, 8);
  EXPECT_EQ(c.stream.num_left_chunks, 4);
  EXPECT_EQ(c.stream.nbest, 5);
  EXPECT_EQ(c.batch.nbest, 5);
  EXPECT_FLOAT_EQ(c.stream.ctc_weight, 0.3f);
  EXPECT_EQ(c.stream.rescoring, 0);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.compute_type, "int8");
  EXPECT_EQ(c.default_sample_rate, 8000);
  EXPECT_TRUE(c.continuous);
}

TEST(TritonBackendConfig, DefaultsAreTheCApisAndTheVersionDirectory) {
  const BackendConfig c = parse_ok(R"({"max_batch_size": 4, "dynamic_batching": {}})");
  EXPECT_FALSE(c.streaming);
  EXPECT_EQ(c.model_dir, "/repo/m/3");
  moeasr_stream_options defaults;
  moeasr_stream_default_options(&defaults);
  EXPECT_EQ(c.stream.chunk_size, defaults.chunk_size);
  EXPECT_EQ(c.stream.nbest, defaults.nbest);
  EXPECT_EQ(c.max_sequence_idle_us, 1000000);
  EXPECT_EQ(c.device, "cpu");
  EXPECT_FALSE(c.continuous);
  EXPECT_EQ(parse_ok(with_parameter("model_dir", "/abs/dir")).model_dir, "/abs/dir");
}

TEST(TritonBackendConfig, RefusesWhatItCannotHonour) {
  EXPECT_NE(parse_error(with_parameter("chunk_sise", "16")).find("unknown parameter \"chunk_sise\""),
            std::string::npos);
  EXPECT_NE(parse_error(with_parameter("chunk_sise", "16")).find("chunk_size"), std::string::npos);
  EXPECT_NE(parse_error(with_parameter("nbest", "0")).find("nbest"), std::string::npos);
  EXPECT_NE(parse_error(with_parameter("nbest", "ten")).find("integer"), std::string::npos);
  EXPECT_NE(parse_error(with_parameter("reverse_weight", "1.5")).find("reverse_weight"), std::string::npos);
  EXPECT_NE(parse_error(with_parameter("rescoring", "yes")).find("true or false"), std::string::npos);
  EXPECT_NE(parse_error(with_parameter("model_dir", "")).find("model_dir"), std::string::npos);
  EXPECT_NE(parse_error(R"({"sequence_batching": {"direct": {}}})").find("oldest"), std::string::npos);
  EXPECT_NE(parse_error("not json").find("JSON"), std::string::npos);
}

}  // namespace
}  // namespace moeasr::triton
