#include "toml_guard.h"

#include <cctype>
#include <cstring>
#include <string>

Result<std::string_view> guard_toml_input(
    std::string_view text, std::vector<size_t>* registry_headers) {
  if (text.starts_with("\xEF\xBB\xBF"))
    text.remove_prefix(3);
  else if (text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF"))
    text.remove_prefix(2);
  size_t line = 1;
  auto fail = [&](const std::string& what) {
    return Error{"line " + std::to_string(line) + ": " + what};
  };
  std::string nesting;  // '[' array or '{' inline table, innermost last
  bool key = true;      // a key comes next (else a value)
  size_t i = 0;
  auto triple = [&](size_t at, char quote) {
    return at + 2 < text.size() && text[at] == quote && text[at + 1] == quote &&
           text[at + 2] == quote;
  };
  auto skip_string = [&](char quote) {
    bool multi = triple(i, quote);
    i += multi ? 3 : 1;
    while (i < text.size()) {
      char c = text[i];
      if (c == '\n') {
        if (!multi) return;  // unterminated: toml++ reports it
        ++line;
      }
      if (c == '\\' && quote == '"') {
        if (i + 1 < text.size() && text[i + 1] == '\n') ++line;
        i += 2;
        continue;
      }
      if (c == quote && (!multi || triple(i, quote))) {
        i += multi ? 3 : 1;
        // """a"""" ends with up to two more quotes inside the string.
        for (int extra = 0;
             multi && extra < 2 && i < text.size() && text[i] == quote; ++extra)
          ++i;
        return;
      }
      ++i;
    }
  };
  while (i < text.size()) {
    char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80)
      return fail("non-ASCII character outside a string or comment");
    switch (c) {
      case '#':
        while (i < text.size() && text[i] != '\n') ++i;
        continue;
      case '"':
      case '\'':
        // toml++ reads a quote right after a bare key or value character as
        // part of that token and then tests the next character for
        // whitespace, the call with undefined behaviour; TOML refuses the
        // form anyway ('a."b"' keys aside).
        if (i > 0 &&
            (std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
             std::strchr("+-_:", text[i - 1]) || (!key && text[i - 1] == '.')))
          return fail("a quote right after a bare key or value");
        skip_string(c);
        continue;
      case '\n':
        ++line;
        if (nesting.empty()) key = true;
        break;
      case '=':
        key = false;
        break;
      case '[':
        if (!key) {
          nesting += '[';
        } else if (registry_headers && nesting.empty() &&
                   (i == 0 || text[i - 1] == '\n')) {  // a table header
          std::string_view header = text.substr(i, text.find('\n', i) - i);
          if (header == "[[registry]]" || header == "[[registry]]\r")
            registry_headers->push_back(i);
        }
        break;
      case '{':
        nesting += '{';
        key = true;
        break;
      case ']':
      case '}':
        if (!nesting.empty() && nesting.back() == (c == ']' ? '[' : '{')) {
          nesting.pop_back();
          key = false;
        }
        break;
      case ',':
        key = !nesting.empty() && nesting.back() == '{';
        break;
      case '+':
        if (key) return fail("'+' in a bare key");
        [[fallthrough]];
      default:
        if (!key && std::isalnum(static_cast<unsigned char>(c))) {
          size_t end = i;
          while (end < text.size() &&
                 (std::isalnum(static_cast<unsigned char>(text[end])) ||
                  std::strchr("+-_.:", text[end])))
            ++end;
          std::string_view word = text.substr(i, end - i);
          if (word.starts_with("0x") || word.starts_with("0X"))
            if (word.find_first_of(".pP") != std::string_view::npos)
              return fail("hexadecimal floats are not TOML");
          i = end;
          continue;
        }
    }
    ++i;
  }
  return text;
}
