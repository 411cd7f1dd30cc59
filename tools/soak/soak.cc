// moeasr-soak: one stream fed a long stretch of audio through the C API, the
// way a live application drives it (pieces of --piece-ms, decode after each,
// a partial result every second), reporting the process's resident memory
// and heap in use after every --report-minutes of audio. It exits non-zero
// when resident memory after the first report leaves the band
// [-tolerance, +tolerance] around it. scripts/soak.sh runs it;
// docs/reliability.md has the numbers.
//
// With --endpoint 1 it behaves like a live captioning app: on an endpoint
// (moeasr_stream_is_endpoint) it finishes the utterance, takes the final
// result and resets the stream. Without it the stream's one never-ending
// utterance keeps its whole transcript, which grows memory by design.
//
//   moeasr-soak [--model DIR] [--wav FILE ...] [--minutes 60] [--chunk-size 16]
//               [--left-chunks 4] [--rescoring 0] [--nbest 10] [--piece-ms 100]
//               [--report-minutes 1] [--tolerance 0.05] [--endpoint 0|1] [--gap-ms 500]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"

namespace {

struct Args {
  std::string model;
  std::vector<std::string> wavs;
  double minutes = 60;
  int chunk_size = 16;
  int left_chunks = 4;
  int rescoring = 0;
  int nbest = 10;
  int piece_ms = 100;
  double report_minutes = 1;
  double tolerance = 0.05;
  int endpoint = 0;
  int gap_ms = 500;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "moeasr-soak: %s\n", message.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::printf("usage: moeasr-soak [--model DIR] [--wav FILE ...] [--minutes M] [--chunk-size N]\n"
                  "                   [--left-chunks N] [--rescoring 0|1] [--nbest N] [--piece-ms MS]\n"
                  "                   [--report-minutes M] [--tolerance F] [--endpoint 0|1] [--gap-ms MS]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) die("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--model") a.model = v;
    else if (flag == "--wav") a.wavs.push_back(v);
    else if (flag == "--minutes") a.minutes = std::atof(v.c_str());
    else if (flag == "--chunk-size") a.chunk_size = std::atoi(v.c_str());
    else if (flag == "--left-chunks") a.left_chunks = std::atoi(v.c_str());
    else if (flag == "--rescoring") a.rescoring = std::atoi(v.c_str());
    else if (flag == "--nbest") a.nbest = std::atoi(v.c_str());
    else if (flag == "--piece-ms") a.piece_ms = std::atoi(v.c_str());
    else if (flag == "--report-minutes") a.report_minutes = std::atof(v.c_str());
    else if (flag == "--tolerance") a.tolerance = std::atof(v.c_str());
    else if (flag == "--endpoint") a.endpoint = std::atoi(v.c_str());
    else if (flag == "--gap-ms") a.gap_ms = std::atoi(v.c_str());
    else die("unknown flag " + flag);
  }
  if (a.model.empty()) die("--model is required");
  if (a.wavs.empty()) die("at least one --wav is required");
  if (a.piece_ms <= 0 || a.minutes <= 0 || a.report_minutes <= 0 || a.gap_ms < 0) die("bad durations");
  return a;
}

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double heap_mib() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = mallinfo2();
  return (m.uordblks + m.hblkhd) / double(1 << 20);
#else
  return -1;
#endif
}

void check(moeasr_status st, const char* what) {
  if (st != MOEASR_OK) die(std::string(what) + ": " + moeasr_last_error());
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  // The audio: the given files, one after another, --gap-ms of room tone
  // (white noise at about -55 dBFS) between, looped.
  std::vector<float> loop;
  uint32_t noise_state = 12345;
  for (const std::string& w : args.wavs) {
    const moeasr::Waveform wav = moeasr::read_wav(w);
    if (wav.sample_rate != 16000) die(w + ": the soak audio must be 16 kHz");
    loop.insert(loop.end(), wav.samples.begin(), wav.samples.end());
    for (int i = 0; i < 16 * args.gap_ms; ++i) {
      noise_state = noise_state * 1664525u + 1013904223u;
      loop.push_back(0.003f * (static_cast<float>(noise_state >> 8) / 8388608.f - 1.f));
    }
  }

  moeasr_model* model = nullptr;
  check(moeasr_model_load(args.model.c_str(), nullptr, &model), "moeasr_model_load");
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  o.chunk_size = args.chunk_size;
  o.num_left_chunks = args.left_chunks;
  o.rescoring = args.rescoring;
  o.nbest = args.nbest;
  moeasr_stream* stream = nullptr;
  check(moeasr_stream_create(model, &o, &stream), "moeasr_stream_create");

  const size_t piece = static_cast<size_t>(16 * args.piece_ms);
  const size_t total = static_cast<size_t>(args.minutes * 60 * 16000);
  const size_t report_every = static_cast<size_t>(args.report_minutes * 60 * 16000);
  std::vector<float> buf(piece);
  size_t fed = 0, loop_pos = 0, next_report = report_every, next_partial = 16000;
  size_t tokens = 0, utterances = 0, final_tokens = 0;
  double baseline = -1, worst = 0;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  std::printf("# model %s, chunk %d, left chunks %d, rescoring %d, nbest %d, %d ms pieces, endpoint %d\n",
              args.model.c_str(), args.chunk_size, args.left_chunks, args.rescoring, args.nbest, args.piece_ms,
              args.endpoint);
  std::printf("%10s %10s %10s %10s %10s %10s %10s\n", "audio_min", "rss_mib", "heap_mib", "tokens", "utts", "rtf",
              "wall_s");
  std::fflush(stdout);
  while (fed < total) {
    const size_t n = std::min(piece, total - fed);
    for (size_t i = 0; i < n; ++i) {
      buf[i] = loop[loop_pos];
      loop_pos = (loop_pos + 1) % loop.size();
    }
    check(moeasr_stream_accept_waveform(stream, buf.data(), n, 16000), "accept_waveform");
    check(moeasr_stream_decode(stream), "decode");
    fed += n;
    int32_t endpoint = 0;
    if (args.endpoint) check(moeasr_stream_is_endpoint(stream, &endpoint), "is_endpoint");
    if (endpoint) {  // the utterance is over: its final result, then a fresh one
      check(moeasr_stream_input_finished(stream), "input_finished");
      check(moeasr_stream_decode(stream), "final decode");
      moeasr_result* r = nullptr;
      check(moeasr_stream_get_final_result(stream, &r), "get_final_result");
      final_tokens += r->num_tokens;
      moeasr_result_free(r);
      check(moeasr_stream_reset(stream), "reset");
      ++utterances;
      tokens = 0;
    }
    if (fed >= next_partial) {  // an application showing the partial transcript once a second
      moeasr_result* r = nullptr;
      check(moeasr_stream_get_partial_result(stream, &r), "get_partial_result");
      tokens = r->num_tokens;
      moeasr_result_free(r);
      next_partial += 16000;
    }
    if (fed >= next_report || fed == total) {
      const auto now = std::chrono::steady_clock::now();
      const double wall = std::chrono::duration<double>(now - start).count();
      const double step = std::chrono::duration<double>(now - last).count();
      last = now;
      const double rss = rss_mib();
      if (baseline < 0) baseline = rss;
      worst = std::max(worst, std::fabs(rss / baseline - 1));
      std::printf("%10.1f %10.1f %10.1f %10zu %10zu %10.4f %10.1f\n", fed / 960000.0, rss, heap_mib(),
                  final_tokens + tokens, utterances, step / (args.report_minutes * 60), wall);
      std::fflush(stdout);
      next_report += report_every;
    }
  }
  check(moeasr_stream_input_finished(stream), "input_finished");
  check(moeasr_stream_decode(stream), "final decode");
  moeasr_result* r = nullptr;
  check(moeasr_stream_get_final_result(stream, &r), "get_final_result");
  std::printf("# final: %zu tokens in %zu utterances; resident memory after the first report stayed within %.2f%% "
              "of it (tolerance %.0f%%)\n",
              final_tokens + r->num_tokens, utterances + 1, 100 * worst, 100 * args.tolerance);
  moeasr_result_free(r);
  moeasr_stream_free(stream);
  moeasr_model_free(model);
  return worst <= args.tolerance ? 0 : 1;
}
