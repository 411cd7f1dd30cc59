#include "runtime/worker.h"

namespace moeasr {

WorkerPool::Lease WorkerPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Worker> w = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(w));
    }
  }
  // Opening a backend may take a while on a GPU: outside the lock.
  auto w = std::make_unique<Worker>(device_);
  std::lock_guard<std::mutex> lock(mutex_);
  ++made_;
  return Lease(*this, std::move(w));
}

void WorkerPool::give_back(std::unique_ptr<Worker> worker) {
  if (!worker) return;
  // Nothing a worker queued may still run when another thread's worker reads
  // the same streams' state; a worker whose device failed is dropped.
  try {
    worker->backend->synchronize();
  } catch (...) {
    return;
  }
  worker->end_step();
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(worker));
}

size_t WorkerPool::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return made_;
}

}  // namespace moeasr
