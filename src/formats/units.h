// The WeNet symbol table (units.txt): one "token id" per line.
#pragma once

#include <string>
#include <vector>

namespace moeasr {

class SymbolTable {
 public:
  // Throws Error(MOEASR_ERR_FORMAT) naming the line for: a line that is not
  // "token id", a bad or duplicate id, ids that are not exactly 0..N-1, a token
  // that is not valid UTF-8, an empty table.
  static SymbolTable parse(const std::string& text, const std::string& source);
  static SymbolTable load(const std::string& path);

  int size() const { return static_cast<int>(tokens_.size()); }
  // The token for an id; "" when out of range.
  const std::string& token(int id) const;
  // -1 when absent.
  int id(const std::string& token) const;

 private:
  std::vector<std::string> tokens_;
};

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool is_valid_utf8(const std::string& s);

}  // namespace moeasr
