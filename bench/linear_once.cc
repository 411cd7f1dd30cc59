// Runs one Linear layer y = x W^T a given number of times on fixed data and
// exits: a program small enough to count its instructions under an emulator
// (scripts/arm_insn_count.sh runs it twice with different repeat counts, so
// the setup cancels out).
//   moeasr-linear-once ROWS K N TYPE PATH REPEATS
//   TYPE: float32 | bfloat16 | float16 | int8;  PATH: small | library
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/half.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/gemm_small.h"

int main(int argc, char** argv) {
  using moeasr::WeightType;
  if (argc != 7) {
    std::fprintf(stderr, "usage: moeasr-linear-once ROWS K N float32|bfloat16|float16|int8 small|library REPEATS\n");
    return 2;
  }
  const int64_t m = std::atoll(argv[1]), k = std::atoll(argv[2]), n = std::atoll(argv[3]);
  const std::string type_name = argv[4], path_name = argv[5];
  const int repeats = std::atoi(argv[6]);
  const WeightType type = type_name == "float32"    ? WeightType::kF32
                          : type_name == "bfloat16" ? WeightType::kBF16
                          : type_name == "float16"  ? WeightType::kF16
                          : type_name == "int8"     ? WeightType::kI8
                                                    : static_cast<WeightType>(255);
  if (m <= 0 || k <= 0 || n <= 0 || repeats < 0 || static_cast<int>(type) == 255 ||
      (path_name != "small" && path_name != "library")) {
    std::fprintf(stderr, "moeasr-linear-once: bad arguments\n");
    return 2;
  }
  std::vector<float> x(m * k), y(m * n), f32(n * k), scale(n, 0.01f);
  std::vector<uint16_t> b16(n * k);
  std::vector<int8_t> i8(n * k);
  std::vector<int32_t> row_sum(n, 0);
  for (int64_t i = 0; i < m * k; ++i) x[i] = static_cast<float>((i * 7919) % 201 - 100) / 100.f;
  for (int64_t i = 0; i < n * k; ++i) {
    f32[i] = static_cast<float>((i * 104729) % 199 - 99) / 1000.f;
    b16[i] = type == WeightType::kF16 ? moeasr::float_to_fp16(f32[i]) : static_cast<uint16_t>(0x3C23);
    i8[i] = static_cast<int8_t>((i * 31) % 255 - 127);
    row_sum[i / k] += i8[i];
  }
  moeasr::WeightMatrix w;
  w.type = type;
  w.n = n;
  w.k = k;
  w.data = type == WeightType::kF32 ? static_cast<const void*>(f32.data())
           : type == WeightType::kI8 ? static_cast<const void*>(i8.data())
                                     : static_cast<const void*>(b16.data());
  w.scale = scale.data();
  w.row_sum = row_sum.data();
  const auto path = path_name == "small" ? moeasr::cpu::LinearPath::kSmallRows : moeasr::cpu::LinearPath::kLibrary;
  for (int r = 0; r < repeats; ++r) moeasr::cpu::linear_with_path(x.data(), m, w, nullptr, y.data(), n, path);
  std::printf("%s: %g\n", moeasr::cpu::linear_kernels_summary().c_str(), static_cast<double>(y[0]));
  return 0;
}
