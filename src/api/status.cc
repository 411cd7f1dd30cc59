// Status names, the thread-local last-error message and the version string.
#include "api/status.h"

#include <string>

namespace moeasr {

namespace {
thread_local std::string t_last_error;
}  // namespace

const std::string& last_error_message() { return t_last_error; }

void set_last_error(const std::string& message) { t_last_error = message; }
void clear_last_error() { t_last_error.clear(); }

}  // namespace moeasr

extern "C" {

const char* moeasr_status_string(moeasr_status status) {
  switch (moeasr::enum_value(status)) {
    case MOEASR_OK: return "MOEASR_OK";
    case MOEASR_ERR_INVALID_ARGUMENT: return "MOEASR_ERR_INVALID_ARGUMENT";
    case MOEASR_ERR_IO: return "MOEASR_ERR_IO";
    case MOEASR_ERR_FORMAT: return "MOEASR_ERR_FORMAT";
    case MOEASR_ERR_UNSUPPORTED: return "MOEASR_ERR_UNSUPPORTED";
    case MOEASR_ERR_STATE: return "MOEASR_ERR_STATE";
    case MOEASR_ERR_OUT_OF_MEMORY: return "MOEASR_ERR_OUT_OF_MEMORY";
    case MOEASR_ERR_DEVICE: return "MOEASR_ERR_DEVICE";
    case MOEASR_ERR_INTERNAL: return "MOEASR_ERR_INTERNAL";
  }
  return "MOEASR_ERR_UNKNOWN";
}

const char* moeasr_last_error(void) { return moeasr::last_error_message().c_str(); }

const char* moeasr_version(void) { return MOEASR_VERSION_STRING; }

}  // extern "C"
