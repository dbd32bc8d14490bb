#include "text.h"

namespace {

char LowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The next rune of `s` at `i` as Go folds it towards ASCII; advances `i`.
char32_t FoldRune(std::string_view s, std::size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return static_cast<char32_t>(LowerAscii(static_cast<char>(c)));
  }
  if (s.substr(i, 2) == "\xC5\xBF") {  // U+017F LATIN SMALL LETTER LONG S
    i += 2;
    return 's';
  }
  if (s.substr(i, 3) == "\xE2\x84\xAA") {  // U+212A KELVIN SIGN
    i += 3;
    return 'k';
  }
  ++i;
  return 0x110000 + c;  // any other byte only matches itself
}

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (FoldRune(a, i) != FoldRune(b, j)) return false;
  }
  return i == a.size() && j == b.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool parse_decimal(std::string_view s, unsigned long long* out) {
  if (s.empty() || s.size() > 18) return false;
  unsigned long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned long long>(c - '0');
  }
  *out = v;
  return true;
}
