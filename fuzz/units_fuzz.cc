// SymbolTable::parse on arbitrary text: either a moeasr::Error naming the
// problem, or a table of valid UTF-8 tokens with ids 0..N-1 that detokenizes
// every id (and every pair of ids) into valid UTF-8.
#include "core/error.h"
#include "decode/detokenize.h"
#include "fuzz_util.h"
#include "formats/units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  moeasr::SymbolTable table;
  try {
    table = moeasr::SymbolTable::parse(text, "fuzz_units.txt");
  } catch (const moeasr::Error& e) {
    FUZZ_CHECK(e.status() == MOEASR_ERR_FORMAT, "status %d: %s", e.status(), e.what());
    return 0;
  }
  FUZZ_CHECK(table.size() >= 1, "empty table accepted");
  std::vector<int> all;
  for (int i = 0; i < table.size(); ++i) {
    const std::string& token = table.token(i);
    FUZZ_CHECK(moeasr::is_valid_utf8(token), "token %d is not UTF-8", i);
    FUZZ_CHECK(!token.empty(), "token %d is empty", i);
    FUZZ_CHECK(table.id(token) >= 0 && table.id(token) <= i, "id(token %d) = %d", i, table.id(token));
    all.push_back(i);
    const std::string one = moeasr::detokenize({i}, table);
    FUZZ_CHECK(moeasr::is_valid_utf8(one), "detokenize({%d}) is not UTF-8", i);
  }
  const std::string joined = moeasr::detokenize(all, table);
  FUZZ_CHECK(moeasr::is_valid_utf8(joined), "detokenize(all) is not UTF-8");
  std::vector<int> reversed(all.rbegin(), all.rend());
  FUZZ_CHECK(moeasr::is_valid_utf8(moeasr::detokenize(reversed, table)), "detokenize(reversed) is not UTF-8");
  bool threw = false;
  try {
    moeasr::detokenize({table.size()}, table);
  } catch (const moeasr::Error&) {
    threw = true;
  }
  FUZZ_CHECK(threw, "an id outside the table was detokenized");
  return 0;
}
