#include "base64.h"

#include <gtest/gtest.h>

#include <vector>

TEST(Base64, RoundTrips) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "user:p@ss:word",
                                std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), s) << s;
}

TEST(Base64, KnownValues) {
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(base64_encode("a"), "YQ==");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(base64_decode("YQ"), "a");  // unpadded, as kubelet accepts
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
}

TEST(Base64, RejectsInvalid) {
  for (const char* bad :
       {"a", "abcde", "YQ=", "Y===", "@@@@", "YQ==YQ==", "-_8="})
    EXPECT_FALSE(base64_decode(bad)) << bad;
  EXPECT_FALSE(base64url_decode("+/8"));
}
