#include "dns.h"

#include "gtest/gtest.h"

namespace {

using Clock = std::chrono::steady_clock;

HttpUrl Url(const std::string& text) {
  auto url = parse_https_url(text);
  EXPECT_TRUE(url.ok());
  return url.ok() ? *url : HttpUrl{};
}

TEST(ResolveHost, IpLiteralNeedsNoLookup) {
  // A deadline already passed: a literal is not looked up, so it still works.
  auto eps = resolve_host(Url("https://[::1]:6443"), Clock::now());
  ASSERT_TRUE(eps.ok()) << eps.error().message;
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_EQ((*eps)[0].port(), 6443);
  EXPECT_TRUE((*eps)[0].address().is_v6());
}

TEST(ResolveHost, NameResolvesWithThePort) {
  auto eps = resolve_host(Url("https://localhost:8443"),
                          Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(eps.ok()) << eps.error().message;
  ASSERT_FALSE(eps->empty());
  for (const auto& ep : *eps) EXPECT_EQ(ep.port(), 8443);
}

}  // namespace
