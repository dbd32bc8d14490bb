#include "log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

TEST(Log, SafeTextKeepsPrintableUtf8) {
  EXPECT_EQ(log_safe("pod team-alpha/web-0 \"mirror.example.com\" ü 名"),
            "pod team-alpha/web-0 \"mirror.example.com\" ü 名");
  EXPECT_EQ(log_safe(""), "");
}

TEST(Log, SafeTextEscapesWhatCouldForgeOrHideALine) {
  const std::pair<std::string, std::string> cases[] = {
      {"a\nb", "a\\nb"},
      {"x\rcrio-credential-provider: error: forged",
       "x\\rcrio-credential-provider: error: forged"},
      {"tab\there", "tab\\there"},
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"esc\x1b[2Jcls", "esc\\x1b[2Jcls"},
      {"del\x7f", "del\\x7f"},
      {"c1 csi \xc2\x9b"
       "31m",
       "c1 csi \\u009b31m"},
      {"nel \xc2\x85", "nel \\u0085"},
      {"ls \xe2\x80\xa8 ps \xe2\x80\xa9", "ls \\u2028 ps \\u2029"},
      {"bidi \xe2\x80\xae"
       "gnp.exe",
       "bidi \\u202egnp.exe"},
      {"bad \xff\xfe utf8 \xc3", "bad \\xff\\xfe utf8 \\xc3"},
      {"overlong \xc0\xaf", "overlong \\xc0\\xaf"},
      {"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
  };
  for (const auto& [raw, want] : cases) EXPECT_EQ(log_safe(raw), want);
}

// Every byte of every possible input comes out as printable ASCII or valid,
// harmless UTF-8 without a line break.
TEST(Log, SafeTextNeverHoldsAControlCharacter) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (int c = 0x80; c < 0x800; ++c) {  // every two-byte rune
    all.push_back(static_cast<char>(0xc0 | (c >> 6)));
    all.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
  std::string safe = log_safe(all);
  for (unsigned char c : safe) EXPECT_FALSE(c < 0x20 || c == 0x7f) << int(c);
  EXPECT_EQ(safe.find("\xc2\x85"), std::string::npos);
  EXPECT_EQ(safe, log_safe(safe));  // escaping twice changes nothing
}

TEST(Log, EveryLineIsEscaped) {
  // Capture stderr through a pipe while the logger writes one line.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  {
    Logger log(LogLevel::kInfo, /*to_syslog=*/false);
    log.error("secret \"x\ncrio-credential-provider: error: forged\" missing");
    log.debug("not shown");
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[1]);
  char buf[512];
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n),
            "crio-credential-provider: error: secret "
            "\"x\\ncrio-credential-provider: error: forged\" missing\n");
}

TEST(Log, ValueIsQuotedCappedAndCannotForgeAKey) {
  EXPECT_EQ(log_value("connection refused"), "\"connection refused\"");
  EXPECT_EQ(log_value("a\" user=\"root"), "\"a\\\" user=\\\"root\"");
  EXPECT_EQ(log_value("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(log_value("a\r\nevent=forged"), "\"a\\r\\nevent=forged\"");
  EXPECT_EQ(log_value(std::string(300, 'x'), 4), "\"xxxx...\"");
}
