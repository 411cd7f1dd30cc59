#include "serving/triton/sequence_table.h"

#include <vector>

namespace moeasr::triton {

SequenceTable::SequenceTable(const moeasr_model* model, const moeasr_stream_options& options,
                             Clock::duration idle_limit)
    : model_(model), options_(options), idle_limit_(idle_limit) {}

SequenceTable::~SequenceTable() {
  for (auto& [id, entry] : entries_) moeasr_stream_free(entry.stream);
}

moeasr_status SequenceTable::start(const std::string& id, moeasr_stream** out) {
  *out = nullptr;
  moeasr_stream* stream = nullptr;
  // Created outside the lock: it allocates, and other instances look up meanwhile.
  moeasr_status status = moeasr_stream_create(model_, &options_, &stream);
  if (status != MOEASR_OK) return status;
  moeasr_stream* replaced = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = entries_[id];
    replaced = entry.stream;
    entry = Entry{stream, Clock::now(), true};
  }
  moeasr_stream_free(replaced);
  *out = stream;
  return MOEASR_OK;
}

moeasr_stream* SequenceTable::acquire(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.in_use) return nullptr;
  it->second.in_use = true;
  return it->second.stream;
}

void SequenceTable::give_back(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.in_use = false;
  it->second.last_used = Clock::now();
}

void SequenceTable::end(const std::string& id) {
  moeasr_stream* stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    stream = it->second.stream;
    entries_.erase(it);
  }
  moeasr_stream_free(stream);
}

size_t SequenceTable::release_idle(Clock::time_point now) {
  std::vector<moeasr_stream*> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (!it->second.in_use && now - it->second.last_used > idle_limit_) {
        idle.push_back(it->second.stream);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (moeasr_stream* stream : idle) moeasr_stream_free(stream);
  return idle.size();
}

size_t SequenceTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

}  // namespace moeasr::triton
