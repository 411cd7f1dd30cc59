// The Triton backend's table of live sequences: start, reuse, end, restart and
// release of abandoned streams (no stream outlives its sequence).
#include "serving/triton/sequence_table.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_util.h"

namespace moeasr::triton {
namespace {

class SequenceTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = test::data_path("models/moe_ln");
    ASSERT_EQ(moeasr_model_load(dir.c_str(), nullptr, &model_), MOEASR_OK) << moeasr_last_error();
    moeasr_stream_default_options(&options_);
  }
  void TearDown() override { moeasr_model_free(model_); }
  moeasr_model* model_ = nullptr;
  moeasr_stream_options options_{};
};

TEST_F(SequenceTableTest, StartAcquireEnd) {
  SequenceTable table(model_, options_, std::chrono::hours(1));
  moeasr_stream* s = nullptr;
  ASSERT_EQ(table.start("u:1", &s), MOEASR_OK);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(table.acquire("u:1"), nullptr);  // still in use by its first request
  table.give_back("u:1");
  EXPECT_EQ(table.acquire("u:1"), s);
  EXPECT_EQ(table.acquire("u:2"), nullptr);  // never started
  table.give_back("u:1");
  table.end("u:1");
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.acquire("u:1"), nullptr);
}

TEST_F(SequenceTableTest, RestartReplacesTheStream) {
  SequenceTable table(model_, options_, std::chrono::hours(1));
  moeasr_stream* first = nullptr;
  moeasr_stream* second = nullptr;
  ASSERT_EQ(table.start("s:a", &first), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_input_finished(first), MOEASR_OK);
  table.give_back("s:a");
  ASSERT_EQ(table.start("s:a", &second), MOEASR_OK);  // a client restarting the sequence: frees `first`
  EXPECT_EQ(table.size(), 1u);
  // A fresh stream: it takes input again (the finished one would refuse it).
  const float samples[160] = {};
  EXPECT_EQ(moeasr_stream_accept_waveform(second, samples, 160, 16000), MOEASR_OK);
  EXPECT_EQ(table.acquire("s:a"), nullptr);  // in use by the restarting request
}

TEST_F(SequenceTableTest, ReleasesOnlyIdleStreamsNotInUse) {
  SequenceTable table(model_, options_, std::chrono::milliseconds(50));
  moeasr_stream* s = nullptr;
  ASSERT_EQ(table.start("u:idle", &s), MOEASR_OK);
  table.give_back("u:idle");
  ASSERT_EQ(table.start("u:busy", &s), MOEASR_OK);  // in use (a long decode)
  ASSERT_EQ(table.start("u:fresh", &s), MOEASR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  table.give_back("u:fresh");  // its idle time starts now
  EXPECT_EQ(table.release_idle(SequenceTable::Clock::now()), 1u);
  EXPECT_EQ(table.acquire("u:idle"), nullptr);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.release_idle(SequenceTable::Clock::now() + std::chrono::seconds(1)), 1u);  // busy stays
  EXPECT_EQ(table.size(), 1u);
}

TEST_F(SequenceTableTest, BadStreamOptionsFailAtStart) {
  moeasr_stream_options bad = options_;
  bad.nbest = 0;
  SequenceTable table(model_, bad, std::chrono::hours(1));
  moeasr_stream* s = reinterpret_cast<moeasr_stream*>(1);
  EXPECT_EQ(table.start("u:1", &s), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace moeasr::triton
