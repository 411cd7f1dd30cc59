// Activation functions named as in WeNet's `activation_type`.
#pragma once

namespace moeasr {

enum class Activation { kRelu, kSwish, kGelu, kTanh, kSelu, kHardtanh };
const char* activation_name(Activation a);

}  // namespace moeasr
