#include "formats/units.h"

#include <unordered_map>

#include "core/error.h"
#include "core/mapped_file.h"

namespace moeasr {

bool is_valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    unsigned min, cp;
    if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= n) return false;
      unsigned cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

SymbolTable SymbolTable::parse(const std::string& text, const std::string& source) {
  SymbolTable table;
  std::unordered_map<int, std::string> by_id;
  size_t pos = 0;
  int line_no = 0;
  int max_id = -1;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    // "token id": the id is the last whitespace-separated field.
    size_t last = line.find_last_not_of(" \t");
    size_t sep = line.find_last_of(" \t", last);
    MOEASR_CHECK(sep != std::string::npos, MOEASR_ERR_FORMAT, source, ":", line_no, ": expected 'token id', got '",
                 line, "'");
    std::string id_text = line.substr(sep + 1, last - sep);
    size_t tok_end = line.find_last_not_of(" \t", sep);
    size_t tok_begin = line.find_first_not_of(" \t");
    MOEASR_CHECK(tok_end != std::string::npos && tok_begin <= tok_end, MOEASR_ERR_FORMAT, source, ":", line_no,
                 ": expected 'token id', got '", line, "'");
    std::string token = line.substr(tok_begin, tok_end - tok_begin + 1);
    MOEASR_CHECK(is_valid_utf8(token), MOEASR_ERR_FORMAT, source, ":", line_no, ": token is not valid UTF-8");
    int id = -1;
    bool digits = !id_text.empty() && id_text.size() <= 9 && id_text.find_first_not_of("0123456789") == std::string::npos;
    MOEASR_CHECK(digits, MOEASR_ERR_FORMAT, source, ":", line_no, ": '", id_text, "' is not a valid token id");
    id = std::stoi(id_text);
    MOEASR_CHECK(!by_id.count(id), MOEASR_ERR_FORMAT, source, ":", line_no, ": duplicate id ", id);
    by_id[id] = token;
    if (id > max_id) max_id = id;
  }
  MOEASR_CHECK(!by_id.empty(), MOEASR_ERR_FORMAT, source, ": no units");
  MOEASR_CHECK(max_id + 1 == static_cast<int>(by_id.size()), MOEASR_ERR_FORMAT, source, ": ids are not 0..",
               by_id.size() - 1, " (largest id is ", max_id, ")");
  table.tokens_.resize(by_id.size());
  for (auto& [id, token] : by_id) table.tokens_[id] = std::move(token);
  return table;
}

SymbolTable SymbolTable::load(const std::string& path) { return parse(read_file(path), path); }

const std::string& SymbolTable::token(int id) const {
  static const std::string kEmpty;
  return id >= 0 && id < size() ? tokens_[id] : kEmpty;
}

int SymbolTable::id(const std::string& token) const {
  for (int i = 0; i < size(); ++i) {
    if (tokens_[i] == token) return i;
  }
  return -1;
}

}  // namespace moeasr
