// Command-line parsing shared by moeasr-decode and moeasr-classify: a bad
// flag or value prints "<program>: <message>" and a hint, and exits with 2.
#pragma once

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

namespace moeasr::cli {

[[noreturn]] inline void usage_error(const char* program, const std::string& message) {
  std::cerr << program << ": " << message << "\n(run with --help for usage)\n";
  std::exit(2);
}

inline int parse_int(const char* program, const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const long x = std::stol(v, &used);
    if (used != v.size() || x < -2147483647L || x > 2147483647L) throw std::invalid_argument(v);
    return static_cast<int>(x);
  } catch (const std::exception&) {
    usage_error(program, flag + " expects an integer, got '" + v + "'");
  }
}

inline float parse_float(const char* program, const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const float x = std::stof(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    usage_error(program, flag + " expects a number, got '" + v + "'");
  }
}

}  // namespace moeasr::cli
