#include "formats/safetensors.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace moeasr {
namespace {

using test::safetensors_bytes;
using test::safetensors_from_header;
using test::status_of;

std::string valid_image() {
  std::map<std::string, test::RawTensor> t;
  t["a"] = test::f32_tensor({2, 3}, 1.5f);
  t["b"] = test::f32_tensor({4}, -2.f);
  return safetensors_bytes(t, {{"format", "pt"}});
}

// Parses `bytes` and returns the status (and message) of the failure.
moeasr_status parse_status(const std::string& bytes, std::string* message = nullptr) {
  return status_of([&] { SafeTensors::from_bytes(bytes, "test.safetensors"); }, message);
}

TEST(SafeTensorsTest, ReadsValidFile) {
  auto st = SafeTensors::from_bytes(valid_image(), "x");
  ASSERT_EQ(st->tensors().size(), 2u);
  Tensor a = st->get("a");
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.data<float>()[5], 1.5f);
  EXPECT_EQ(st->get("b").data<float>()[0], -2.f);
  EXPECT_EQ(st->metadata().at("format"), "pt");
  EXPECT_EQ(st->find("c"), nullptr);
}

TEST(SafeTensorsTest, ReadsFromDiskThroughMmap) {
  test::TempDir dir;
  test::write_file(dir.file("m.safetensors"), valid_image());
  auto st = SafeTensors::open(dir.file("m.safetensors"));
  Tensor b = st->get("b");
  st.reset();  // the view keeps the mapping alive
  EXPECT_EQ(b.data<float>()[3], -2.f);
}

TEST(SafeTensorsTest, MissingFileIsIoError) {
  std::string msg;
  EXPECT_EQ(status_of([] { SafeTensors::open("/nonexistent/model.safetensors"); }, &msg), MOEASR_ERR_IO);
  EXPECT_NE(msg.find("/nonexistent/model.safetensors"), std::string::npos);
}

TEST(SafeTensorsTest, TooShort) {
  std::string msg;
  EXPECT_EQ(parse_status("abc", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("not a safetensors file"), std::string::npos);
}

TEST(SafeTensorsTest, HeaderLengthBeyondFileIsTruncation) {
  std::string img = valid_image();
  std::string msg;
  EXPECT_EQ(parse_status(img.substr(0, 20), &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, TruncatedDataIsOutOfRange) {
  std::string img = valid_image();
  std::string msg;
  EXPECT_EQ(parse_status(img.substr(0, img.size() - 4), &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, AbsurdHeaderLength) {
  std::string img = valid_image();
  img[7] = static_cast<char>(0x7F);
  std::string msg;
  EXPECT_EQ(parse_status(img, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("header length"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, HeaderIsNotJson) {
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_from_header("{not json at all", ""), &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_from_header("[1, 2]", "")), MOEASR_ERR_FORMAT);
}

TEST(SafeTensorsTest, EntryFieldsAreChecked) {
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": 3})", ""), &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", "xxxx"), &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("no dtype"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", "xxxx"), &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("no shape"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [1]}})", "xxxx"), &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("data_offsets"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                                                 "xxxx"),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})",
                                                 "xxxx"),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("begin > end"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, UnsupportedDtype) {
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}})",
                                                 "x"),
                         &msg),
            MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("F8_E4M3"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, SizeMustMatchShape) {
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                                                 "xxxxxxxx"),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("needs 12 bytes"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, TerabyteTensorIsRejectedWithoutAllocating) {
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_from_header(
                             R"({"a": {"dtype": "F32", "shape": [262144, 1048576], "data_offsets": [0, 1099511627776]}})",
                             "xxxx"),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  // Dimensions whose product overflows 64 bits.
  EXPECT_EQ(parse_status(safetensors_from_header(
                             R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
                             "xxxx"),
                         &msg),
            MOEASR_ERR_FORMAT);
}

TEST(SafeTensorsTest, OverlapsAndHolesAreRejected) {
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                     "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                                 std::string(12, 'x')),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("overlaps"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                                     "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                                                 std::string(12, 'x')),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("holes"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_from_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                                                 std::string(8, 'x')),
                         &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("trailing"), std::string::npos) << msg;
}

TEST(SafeTensorsTest, NewerFormatVersionIsUnsupported) {
  std::map<std::string, test::RawTensor> t;
  t["a"] = test::f32_tensor({1});
  std::string msg;
  EXPECT_EQ(parse_status(safetensors_bytes(t, {{"moeasr_format_version", "99"}}), &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
  EXPECT_EQ(parse_status(safetensors_bytes(t, {{"moeasr_format_version", "1"}})), MOEASR_OK);
  EXPECT_EQ(parse_status(safetensors_bytes(t, {{"moeasr_format_version", "abc"}})), MOEASR_ERR_FORMAT);
}

TEST(SafeTensorsTest, MisalignedTensorIsCopied) {
  std::map<std::string, test::RawTensor> t;
  test::RawTensor byte;
  byte.dtype = "U8";
  byte.shape = {1};
  byte.bytes = "z";
  t["a_byte"] = byte;                         // offset 0..1
  t["b_float"] = test::f32_tensor({2}, 3.f);  // offset 1: misaligned
  auto st = SafeTensors::from_bytes(safetensors_bytes(t), "x");
  Tensor f = st->get("b_float");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.raw()) % 4, 0u);
  EXPECT_EQ(f.data<float>()[1], 3.f);
}

}  // namespace
}  // namespace moeasr
