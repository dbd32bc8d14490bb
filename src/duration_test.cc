#include "duration.h"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(Duration, ParsesGoSyntax) {
  const std::pair<const char*, std::chrono::nanoseconds> cases[] = {
      {"0", 0s},
      {"0s", 0s},
      {"10s", 10s},
      {"5m", 5min},
      {"1h2m3s", 1h + 2min + 3s},
      {"1.5s", 1500ms},
      {"300ms", 300ms},
      {"2us", 2us},
      {"7ns", 7ns},
      {"-1s", -1s},
      {".5s", 500ms},
  };
  for (const auto& [text, want] : cases) {
    auto d = parse_go_duration(text);
    ASSERT_TRUE(d.ok()) << text;
    EXPECT_EQ(*d, want) << text;
  }
  for (const char* bad : {"", "10", "s", "1x", "1.s.", "1h 2m", "--1s"})
    EXPECT_FALSE(parse_go_duration(bad).ok()) << bad;
}

TEST(Duration, FormatsLikeGo) {
  const std::pair<std::chrono::nanoseconds, const char*> cases[] = {
      {0s, "0s"},     {10s, "10s"},     {90s, "1m30s"},
      {2h, "2h0m0s"}, {1500ms, "1.5s"}, {500ms, "500ms"},
      {7ns, "7ns"},   {-1s, "-1s"},     {10min, "10m0s"},
  };
  for (const auto& [d, want] : cases) EXPECT_EQ(format_go_duration(d), want);
}

// Found by fuzz/duration_fuzz: Go's ParseDuration accepts the minimum
// duration, which Duration.String() prints.
TEST(Duration, ParsesTheMinimumAsGoDoes) {
  constexpr auto kMin = std::chrono::nanoseconds::min();
  ASSERT_EQ(format_go_duration(kMin), "-2562047h47m16.854775808s");
  for (const char* text :
       {"-2562047h47m16.854775808s", "-9223372036854775808ns"}) {
    auto d = parse_go_duration(text);
    ASSERT_TRUE(d.ok()) << text;
    EXPECT_EQ(*d, kMin) << text;
  }
  for (const char* text : {"2562047h47m16.854775808s", "9223372036854775808ns",
                           "-9223372036854775809ns"})
    EXPECT_FALSE(parse_go_duration(text).ok()) << text;
  auto max = parse_go_duration("2562047h47m16.854775807s");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, std::chrono::nanoseconds::max());
}
