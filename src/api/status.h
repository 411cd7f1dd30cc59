// Internal helpers of the C boundary: the thread-local last-error message.
#pragma once

#include <cstring>
#include <string>

#include "moeasr/moeasr.h"

namespace moeasr {

void set_last_error(const std::string& message);
void clear_last_error();
const std::string& last_error_message();

// The integer a C caller passed for an enum parameter. C allows any int
// there; in C++ reading an enum object whose value lies outside the enum's
// range is undefined (UBSan reports it), so the value is copied out bytewise
// and checked as an int.
template <typename E>
int enum_value(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

}  // namespace moeasr
