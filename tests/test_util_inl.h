#pragma once

#include "core/error.h"

namespace moeasr::test {

template <typename Fn>
moeasr_status status_of(Fn&& fn, std::string* message) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.status();
  }
  if (message) message->clear();
  return MOEASR_OK;
}

}  // namespace moeasr::test
