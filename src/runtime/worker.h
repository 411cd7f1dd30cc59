// Who runs the model: a worker is one thread's handle on the model's device
// (a Backend: on a GPU its own CUDA stream and cuBLAS handle) and the scratch
// of the steps it runs (encoder and decoder workspaces, the host copies of a
// step's results), sized by the largest batch it has run. A model keeps a
// pool; every decode call borrows a worker for its duration and returns it,
// so scratch memory follows the number of threads decoding at once, not the
// number of streams, and no stream owns any (sherpa-onnx's recognizer owns
// DecodeStreams in the same way; whisper.cpp's state is the stream's part).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "asr/decoder.h"
#include "asr/encoder.h"
#include "asr/transducer.h"
#include "ops/backend.h"

namespace moeasr {

struct Worker {
  explicit Worker(Device device) : backend(Backend::open(device)) {}
  std::unique_ptr<Backend> backend;
  EncoderWorkspace encoder;
  DecoderWorkspace decoder;
  TransducerWorkspace transducer;
  Tensor rows, log_probs;  // a step's encoder output and CTC log-probs, on the device
  Tensor host_log_probs;   // their host copy (GPU)
  // Buffers outgrown during a step, freed when the step is over.
  std::vector<Tensor> retired;
  void end_step() {
    encoder.retired.clear();
    retired.clear();
  }
};

class WorkerPool {
 public:
  explicit WorkerPool(Device device) : device_(device) {}

  // A worker for the calling thread until the lease ends: an idle one, or a new one.
  class Lease {
   public:
    Lease(WorkerPool& pool, std::unique_ptr<Worker> worker) : pool_(pool), worker_(std::move(worker)) {}
    ~Lease() { pool_.give_back(std::move(worker_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Worker& operator*() const { return *worker_; }
    Worker* operator->() const { return worker_.get(); }

   private:
    WorkerPool& pool_;
    std::unique_ptr<Worker> worker_;
  };
  Lease acquire();
  // Workers made so far (the most that ran at once).
  size_t size() const;

 private:
  void give_back(std::unique_ptr<Worker> worker);
  Device device_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Worker>> idle_;
  size_t made_ = 0;
};

}  // namespace moeasr
