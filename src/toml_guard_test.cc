#include "toml_guard.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

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
    EXPECT_NE(conf.error().message.find("quote right after"), std::string::npos)
        << conf.error().message;
  }
  EXPECT_TRUE(guard_toml_input("a.\"b\" = \"\xC3\x9A\"\n").ok());
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
