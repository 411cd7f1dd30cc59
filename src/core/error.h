// Errors inside moeasr are C++ exceptions carrying a moeasr_status; the C API
// converts them into status codes at the boundary (DESIGN §6). Nothing in the
// library aborts or exits.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "moeasr/moeasr.h"

namespace moeasr {

class Error : public std::runtime_error {
 public:
  Error(moeasr_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  moeasr_status status() const { return status_; }

 private:
  moeasr_status status_;
};

// Concatenates anything printable with operator<< into one string.
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <typename... Args>
[[noreturn]] void throw_error(moeasr_status status, Args&&... args) {
  throw Error(status, str_cat(std::forward<Args>(args)...));
}

}  // namespace moeasr

// Throws moeasr::Error(status, message) unless cond holds. The message is built
// only on failure.
#define MOEASR_CHECK(cond, status, ...)                  \
  do {                                                   \
    if (!(cond)) ::moeasr::throw_error(status, __VA_ARGS__); \
  } while (0)
