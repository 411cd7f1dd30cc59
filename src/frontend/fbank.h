// Kaldi-compatible log-mel filterbank, computed exactly as WeNet does it:
// torchaudio.compliance.kaldi.fbank(waveform * 32768, num_mel_bins=80,
// frame_length=25, frame_shift=10, dither=0, energy_floor=0) — povey window,
// pre-emphasis 0.97, DC removal, snip_edges, power spectrum, mel banks from
// 20 Hz to Nyquist, natural log floored at FLT_EPSILON.
//
// The Audio Spectrogram Transformer's front end (Hugging Face's
// ASTFeatureExtractor) is the same computation with a hanning window, 128 bins
// and the samples left in [-1, 1] (input_scale 1).
//
// Streaming: samples may arrive in pieces of any size; the frames produced are
// identical to computing on the whole signal at once.
//
// Precision: frames are processed in double. In float32 (as torchaudio runs
// it) the log energy of nearly empty mel bins in quiet frames is off by up to
// ~1e-2 from the exact value; in double it is exact to ~1e-6. The cost is a
// few microseconds per 10 ms frame.
#pragma once

#include <complex>
#include <cstddef>
#include <memory>
#include <vector>

namespace moeasr {

// Kaldi's window types that moeasr's models use.
enum class FbankWindow {
  kPovey,    // (0.5 - 0.5 cos(2 pi n / (N - 1)))^0.85, Kaldi's default (WeNet)
  kHanning,  // 0.5 - 0.5 cos(2 pi n / (N - 1)), the symmetric Hann window (AST)
};

struct FbankOptions {
  int sample_rate = 16000;
  float frame_length_ms = 25.f;
  float frame_shift_ms = 10.f;
  int num_mel_bins = 80;
  float low_freq = 20.f;
  float high_freq = 0.f;  // <= 0: offset from Nyquist
  double preemph = 0.97;
  float input_scale = 32768.f;  // WeNet scales [-1, 1] samples to the int16 range; AST: 1
  FbankWindow window = FbankWindow::kPovey;
};

class Fbank {
 public:
  // Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for inconsistent options.
  explicit Fbank(const FbankOptions& opts);
  ~Fbank();
  Fbank(Fbank&&) noexcept;
  Fbank& operator=(Fbank&&) noexcept;

  const FbankOptions& options() const { return opts_; }
  int window_size() const { return window_size_; }
  int window_shift() const { return window_shift_; }
  int num_bins() const { return opts_.num_mel_bins; }

  // Consumes `n` samples in [-1, 1] and appends every frame that became
  // complete to `features` (num_bins() floats per frame).
  void accept_waveform(const float* samples, size_t n, std::vector<float>* features);
  // Frames produced so far.
  long frames_emitted() const { return frames_emitted_; }
  // Forgets buffered samples (next utterance).
  void reset();

  // Frame count Kaldi's snip_edges gives for n samples.
  long num_frames(size_t n_samples) const;

 private:
  void compute_frame(const double* frame, float* out);

  FbankOptions opts_;
  int window_size_ = 0, window_shift_ = 0, fft_size_ = 0;
  std::vector<double> window_;
  // Mel filters as (first fft bin, weights) per mel bin.
  std::vector<int> mel_first_;
  std::vector<std::vector<double>> mel_weights_;
  std::vector<double> pending_;  // samples not yet consumed by a frame (scaled)
  long frames_emitted_ = 0;
  // Scratch
  std::vector<double> frame_, padded_, power_;
  std::vector<std::complex<double>> spectrum_;
  struct FftImpl;
  std::unique_ptr<FftImpl> fft_;
};

// One-shot helper: frames x num_bins, row-major.
std::vector<float> compute_fbank(const float* samples, size_t n, const FbankOptions& opts);

}  // namespace moeasr
