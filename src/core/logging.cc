#include "core/logging.h"

#include <atomic>
#include <mutex>

namespace moeasr {

namespace {

struct Sink {
  std::mutex mutex;
  moeasr_log_callback callback = nullptr;
  void* user_data = nullptr;
  std::atomic<int> min_level{MOEASR_LOG_ERROR + 1};  // nothing enabled until a callback is set
};

Sink& sink() {
  static Sink s;
  return s;
}

}  // namespace

void set_log_callback(moeasr_log_callback callback, void* user_data, moeasr_log_level min_level) {
  Sink& s = sink();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.callback = callback;
  s.user_data = user_data;
  s.min_level = callback ? static_cast<int>(min_level) : MOEASR_LOG_ERROR + 1;
}

bool log_enabled(moeasr_log_level level) { return static_cast<int>(level) >= sink().min_level.load(); }

void log_message(moeasr_log_level level, const std::string& message) {
  Sink& s = sink();
  moeasr_log_callback callback;
  void* user_data;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    callback = s.callback;
    user_data = s.user_data;
  }
  // Called outside the lock so the callback may itself call moeasr.
  if (callback && static_cast<int>(level) >= s.min_level.load()) callback(level, message.c_str(), user_data);
}

}  // namespace moeasr
