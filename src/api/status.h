// Internal helpers of the C boundary: the thread-local last-error message.
#pragma once

#include <string>

#include "moeasr/moeasr.h"

namespace moeasr {

void set_last_error(const std::string& message);
void clear_last_error();
const std::string& last_error_message();

}  // namespace moeasr
