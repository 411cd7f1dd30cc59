// The moeasr streams of one Triton model's live sequences, by correlation id.
//
// Triton's sequence batcher routes each request of a sequence, in order, to
// one model instance, and never puts two requests of one sequence in flight
// at once; so a stream is used by one thread at a time. The table is shared
// by the model's instances (one mutex, held only to look up), so the streams
// live as long as the model, not an instance.
//
// Triton forgets a sequence that sent nothing for max_sequence_idle_microseconds
// without telling the backend; release_idle() frees such streams so an
// abandoned client cannot leak one. It waits one grace period longer than
// Triton, so a sequence Triton still serves is never released under it.
#ifndef MOEASR_SERVING_TRITON_SEQUENCE_TABLE_H_
#define MOEASR_SERVING_TRITON_SEQUENCE_TABLE_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "moeasr/moeasr.h"

namespace moeasr::triton {

class SequenceTable {
 public:
  using Clock = std::chrono::steady_clock;

  // `model` must outlive the table. Streams are created with `options`.
  SequenceTable(const moeasr_model* model, const moeasr_stream_options& options, Clock::duration idle_limit);
  ~SequenceTable();  // frees every stream
  SequenceTable(const SequenceTable&) = delete;
  SequenceTable& operator=(const SequenceTable&) = delete;

  // START of sequence `id`: a new stream, in use by the caller until give_back
  // or end. A stream the id still had (a client that restarts a sequence
  // without ending it) is freed first. On failure returns the status with
  // moeasr_last_error() set, and *out is NULL.
  moeasr_status start(const std::string& id, moeasr_stream** out);
  // The stream of live sequence `id`, now in use by the caller; NULL if the
  // table has none (never started, ended, or released as idle) or it is in use.
  moeasr_stream* acquire(const std::string& id);
  // The caller is done with `id`'s stream for this request; its idle time starts now.
  void give_back(const std::string& id);
  // The sequence has ended: frees its stream.
  void end(const std::string& id);
  // Frees the streams not in use whose last request is older than the idle
  // limit at `now`; returns how many.
  size_t release_idle(Clock::time_point now);
  size_t size() const;

 private:
  struct Entry {
    moeasr_stream* stream = nullptr;
    Clock::time_point last_used;
    bool in_use = false;
  };
  const moeasr_model* model_;
  moeasr_stream_options options_;
  Clock::duration idle_limit_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace moeasr::triton

#endif  // MOEASR_SERVING_TRITON_SEQUENCE_TABLE_H_
