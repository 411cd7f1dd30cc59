// Library messages go to the callback the application sets with
// moeasr_set_log_callback (none by default); nothing is printed.
#pragma once

#include <string>

#include "core/error.h"  // str_cat
#include "moeasr/moeasr.h"

namespace moeasr {

void set_log_callback(moeasr_log_callback callback, void* user_data, moeasr_log_level min_level);
bool log_enabled(moeasr_log_level level);
void log_message(moeasr_log_level level, const std::string& message);

template <typename... Args>
void log_info(Args&&... args) {
  if (log_enabled(MOEASR_LOG_INFO)) log_message(MOEASR_LOG_INFO, str_cat(std::forward<Args>(args)...));
}
template <typename... Args>
void log_warning(Args&&... args) {
  if (log_enabled(MOEASR_LOG_WARNING)) log_message(MOEASR_LOG_WARNING, str_cat(std::forward<Args>(args)...));
}

}  // namespace moeasr
