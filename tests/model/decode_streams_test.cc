// decode_streams: a stream batched with others computes what it computes
// alone. No layer mixes streams, so every stream's CTC log-probs equal its
// log-probs decoded alone up to float rounding: stacking rows changes the row
// count of each GEMM (and of each expert's group), which may pick another
// kernel and round differently. A layer that mixed streams would move them
// by far more than the tolerance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "frontend/wav_reader.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

// Log-probs are around -1..-60; the kernels' rounding moves them by ~1e-5.
constexpr double kLogProbTolerance = 1e-4;
constexpr size_t kPiece = 1600;  // 100 ms

struct Job {
  std::vector<float> audio;
  DecodeOptions options;
};

// Different crops of the two fixtures, chunk sizes (full attention included),
// left contexts and reverse weights, so the streams finish at different steps.
// `stride`: chunk sizes are multiples of it (an efficient conformer's total stride).
std::vector<Job> make_jobs(int n, int stride = 1) {
  const std::vector<float> a = read_wav(test::data_path("audio/hello.wav")).samples;
  const std::vector<float> b = read_wav(test::data_path("audio/numbers.wav")).samples;
  const int chunks[] = {16, 4, 8, 1, -1};
  std::vector<Job> jobs;
  for (int i = 0; i < n; ++i) {
    const std::vector<float>& src = i % 2 ? b : a;
    const size_t begin = static_cast<size_t>(i * 1237) % 8000, end = src.size() - static_cast<size_t>(i * 611) % 6000;
    Job j;
    j.audio.assign(src.begin() + begin, src.begin() + end);
    j.options.chunk_size = chunks[i % 5] > 0 ? (chunks[i % 5] + stride - 1) / stride * stride : chunks[i % 5];
    j.options.num_left_chunks = i % 3 == 0 ? 2 : -1;
    j.options.reverse_weight = i % 4 == 0 ? 0.3f : 0.f;
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<float> log_probs_alone(const std::shared_ptr<const AsrModel>& model, const Job& job) {
  Stream s(model, job.options);
  s.set_keep_debug_outputs(true);
  for (size_t pos = 0; pos < job.audio.size(); pos += kPiece) {
    s.accept_waveform(job.audio.data() + pos, std::min(kPiece, job.audio.size() - pos), 16000);
    s.decode();
  }
  s.input_finished();
  s.decode();
  return s.ctc_log_probs();
}

void expect_batched_log_probs_equal_alone(const std::string& model_dir) {
  const std::shared_ptr<const AsrModel> model = AsrModel::load(test::data_path(model_dir), ModelOptions{});
  const std::vector<Job> jobs = make_jobs(10, model->config().encoder.total_stride());
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<Stream*> batch;
  for (const Job& j : jobs) {
    streams.push_back(std::make_unique<Stream>(model, j.options));
    streams.back()->set_keep_debug_outputs(true);
    batch.push_back(streams.back().get());
  }
  // 100 ms to every stream per round, one batched call per round.
  for (size_t pos = 0;; pos += kPiece) {
    bool any = false;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const std::vector<float>& a = jobs[i].audio;
      if (pos < a.size()) {
        streams[i]->accept_waveform(a.data() + pos, std::min(kPiece, a.size() - pos), 16000);
        any = true;
      } else if (pos < a.size() + kPiece) {
        streams[i]->input_finished();
      }
    }
    decode_streams(batch);
    if (!any) break;
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_EQ(streams[i]->state(), Stream::State::kDone) << i;
    const std::vector<float> alone = log_probs_alone(model, jobs[i]);
    const std::vector<float>& batched = streams[i]->ctc_log_probs();
    ASSERT_EQ(alone.size(), batched.size()) << "stream " << i;
    ASSERT_FALSE(alone.empty());
    double err = 0;
    for (size_t k = 0; k < alone.size(); ++k) err = std::max(err, std::fabs(double(alone[k]) - batched[k]));
    EXPECT_LT(err, kLogProbTolerance) << model_dir << " stream " << i;
  }
}

// (MotStreaming.WithinChunkGroupsDoNotDependOnOtherStreams does the same for
// a Mixture-of-Tokens model.)
TEST(DecodeStreams, EveryStreamsLogProbsEqualDecodingItAlone) { expect_batched_log_probs_equal_alone("models/moe_ln"); }

// Efficient Conformers: each stream's rows halve at its strided layers and
// its grouped attention pads its own queries and keys.
TEST(DecodeStreams, EfficientConformerStreamsEqualDecodingThemAlone) {
  expect_batched_log_probs_equal_alone("models/effconf_stream");
  expect_batched_log_probs_equal_alone("models/effconf_c2");
}

// The Squeezeformers: each stream's reduced blocks run on its own rows and its
// own key window (different chunk sizes, left contexts and so cache rules in
// one call), the time reduction and the recovery per stream.
TEST(DecodeStreams, SqueezeformerStreamsEqualDecodingThemAlone) {
  expect_batched_log_probs_equal_alone("models/sqz_causal");
  expect_batched_log_probs_equal_alone("models/sqz_shift");
}

}  // namespace
}  // namespace moeasr
