#include "toml_guard.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "registries.h"

namespace {

// toml++ 3.3.0 has undefined behaviour on a character U+00A1-U+0499 right
// after a key (issue 9 item 8): such input is refused before it gets there.
TEST(TomlGuard, NoCharacterAfterAKeyReachesToml) {
  for (char32_t c = 0xA1; c <= 0x499; ++c) {
    char ch[3] = {static_cast<char>(0xC0 | (c >> 6)),
                  static_cast<char>(0x80 | (c & 0x3F)), 0};
    for (const char* shape : {"a%s = 1\n", "a.%s = 1\n", "[a%s]\n",
                              "x = { a%s = 1 }\n", "\"a\"%s = 1\n"}) {
      char toml[32];
      std::snprintf(toml, sizeof toml, shape, ch);
      auto conf = guard_toml_input(toml);
      ASSERT_FALSE(conf.ok()) << toml;
      EXPECT_NE(conf.error().message.find("non-ASCII"), std::string::npos);
    }
  }
}

// Found by fuzz/registries: a quote glued to a value token is part of that
// token for toml++, so the non-ASCII character after it must not reach it.
TEST(TomlGuard, NoQuoteGluedToAValueReachesToml) {
  for (const char* toml : {"u=-\"\xC3\x9A", "u=1\"\xC3\x9A", "u=-'\xC3\x9A",
                           "u=[-\"\xC3\x9A", "u=1\"\xEF\xB9\xBF\""}) {
    auto conf = guard_toml_input(toml);
    ASSERT_FALSE(conf.ok()) << toml;
    EXPECT_NE(conf.error().message.find("quote"), std::string::npos)
        << conf.error().message;
  }
  EXPECT_TRUE(guard_toml_input("a.\"b\" = \"\xC3\x9A\"\n").ok());
}

// Found by fuzz/registries: toml++ reads a bare value on to the next value
// terminator, across '=' and quotes, so a non-ASCII character anywhere in that
// span reached its undefined whitespace test.
TEST(TomlGuard, NothingInABareValueReachesToml) {
  for (const char* toml :
       {"l = 2040abcfixist=\"app.ex\xEF\xAF\xBF\"\n", "l = 1=\"\xD0\x96\"\n",
        "l = [1x='\xC2\xA1']\n", "l = true=\"\xE2\xB1\x9E\"\n",
        "l = 1979-05-27 07:32:00=\"\xC2\xA1\"\n", "l = 12\xC2\xA1\n",
        // Values starting with a sign or '.' (CI's fuzz-registries found the
        // first: unqualified-sea = -?"ba<U+FE7F>...).
        "l = -?\"ba\xEF\xB9\xBF\"\n", "l = .5=\"\xC2\xA1\"\n",
        "l = [+x'\xE2\xB1\x9E']\n"}) {
    auto conf = guard_toml_input(toml);
    ASSERT_FALSE(conf.ok()) << toml;
    EXPECT_EQ(conf.error().message.find("line 1: "), 0u)
        << conf.error().message;
  }
  for (const char* toml :
       {"l = 1979-05-27 07:32:00 # \xC2\xA1\n", "l = [1,\"\xC2\xA1\"]\n",
        "l = {a=1}#\xC2\xA1\n", "l = [-1, +2.5, -inf, \"\xC2\xA1\"]\n"})
    EXPECT_TRUE(guard_toml_input(toml).ok()) << toml;
}

// The byte-order marks BurntSushi/toml strips (parse.go) are stripped.
TEST(TomlGuard, StripsByteOrderMarks) {
  for (std::string_view bom : {"\xEF\xBB\xBF", "\xFF\xFE", "\xFE\xFF"}) {
    // The result views its input, which must outlive it.
    const std::string input = std::string(bom) + "a = 1\n";
    auto text = guard_toml_input(input);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, "a = 1\n");
  }
}

}  // namespace

// The lines registries_parse.cc may cut a file at: "[[registry]]" alone on a
// top-level line, never inside a string or an array, nor with more on the
// line.
TEST(TomlGuard, FindsTopLevelRegistryHeaders) {
  std::string toml =
      "[[registry]]\n"                      // 0
      "a = \"\"\"\n[[registry]]\n\"\"\"\n"  // in a string
      "b = [\n[[registry]]\n]\n"            // in an array
      "[[registry]] # note\n"
      "[[registry]]\r\n"  // 79
      "[[registry]]";     // 93
  std::vector<size_t> headers;
  auto text = guard_toml_input(toml, &headers);
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(headers, (std::vector<size_t>{0, 79, 93}));
  headers.clear();
  ASSERT_TRUE(guard_toml_input("\xEF\xBB\xBF[[registry]]\n", &headers).ok());
  EXPECT_EQ(headers, (std::vector<size_t>{0}));  // in the text returned
}

namespace {

// The UTF-8 bytes of `c` (a BMP code point).
std::string Utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

}  // namespace

// Found by fuzz/registries: toml++ 3.3.0 tests the character after a
// backslash in a string, and the first one past a line-ending backslash's
// blank lines, with the whitespace test that has undefined behaviour. Every
// BMP character in those places is refused or parses (under UBSan in the
// sanitizer build, where undefined behaviour aborts).
TEST(TomlGuard, NoCharacterAfterABackslashReachesTomlUndefined) {
  int refused_after_line_end = 0;
  for (char32_t c = 0x80; c <= 0xFFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::string ch = Utf8(c);
    const bool undefined = (c >= 0xA1 && c <= 0x499) ||
                           (c >= 0x2C5E && c <= 0x3057 && c != 0x3000) ||
                           (c >= 0xFB26 && c <= 0xFEFE);
    for (const std::string& toml :
         {"a = \"\"\"x\\\n" + ch + "\"\"\"\n",
          "a = \"\"\"x\\ \n\n\t" + ch + "\"\"\"\n",
          "a = \"\"\"x\\\n\xC2\xA0\xE3\x80\x80" + ch + "\"\"\"\n",
          "a = \"\"\"x\\\t" + ch + "\\\n\"\"\"\n"}) {
      auto guarded = guard_toml_input(toml);
      EXPECT_EQ(guarded.ok(), !undefined)
          << std::hex << static_cast<unsigned>(c);
      if (!guarded.ok()) {
        ++refused_after_line_end;
        EXPECT_NE(guarded.error().message.find("write it as \\uXXXX"),
                  std::string::npos);
        continue;
      }
      (void)parse_registries(toml, "test.conf");
    }
    for (const std::string& toml :
         {"a = \"\\" + ch + "\"\n", "a = \"\"\"\\" + ch + "\"\"\"\n"}) {
      auto guarded = guard_toml_input(toml);
      ASSERT_FALSE(guarded.ok())
          << std::hex << static_cast<unsigned>(c);  // Go: invalid escape
      EXPECT_NE(guarded.error().message.find("after a backslash"),
                std::string::npos);
    }
  }
  EXPECT_EQ(
      refused_after_line_end,
      4 * ((0x499 - 0xA1 + 1) + (0x3057 - 0x2C5E) + (0xFEFE - 0xFB26 + 1)));
}
