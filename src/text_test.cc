#include "text.h"

#include "gtest/gtest.h"

TEST(Text, AsciiLowerLeavesOtherBytes) {
  EXPECT_EQ(ascii_lower("Docker.IO/Library-\xC3\x84"),
            "docker.io/library-\xC3\x84");
}

TEST(Text, EqualsIgnoreCaseTable) {
  struct Case {
    std::string_view a, b;
    bool equal;
  };
  const Case cases[] = {{"Auth", "auth", true},
                        {"AUTH", "auth", true},
                        {"auth", "auths", false},
                        {"", "", true},
                        {"u\xC5\xBF"
                         "ername",
                         "username", true},
                        {"\xE2\x84\xAA"
                         "ey",
                         "KEY", true},
                        {"\xC3\x84", "a", false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.a) + " vs " + std::string(c.b));
    EXPECT_EQ(equals_ignore_case(c.a, c.b), c.equal);
  }
}

TEST(Text, TrimTable) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Text, ParseDecimalTable) {
  unsigned long long v = 0;
  EXPECT_TRUE(parse_decimal("6443", &v));
  EXPECT_EQ(v, 6443u);
  EXPECT_FALSE(parse_decimal("", &v));
  EXPECT_FALSE(parse_decimal("12ab", &v));
  EXPECT_FALSE(parse_decimal("-1", &v));
  EXPECT_FALSE(parse_decimal("1234567890123456789", &v));
}
