// Tests of parse_https_url (url.h).
#include "url.h"

#include "gtest/gtest.h"
#include "http_error.h"

namespace {

// ---- URL parsing -----------------------------------------------------------

TEST(ParseHttpsUrl, Table) {
  struct Case {
    std::string url;
    bool ok = false;
    std::string host = "";
    int port = 0;
    std::string base = "";
    bool ip = false;
    bool v6 = false;
    std::string authority = "";
  };
  const Case cases[] = {
      {"https://api.example.com", true, "api.example.com", 443, "", false,
       false, "api.example.com"},
      {"https://API.Example.com:6443/", true, "api.example.com", 6443, "",
       false, false, "api.example.com:6443"},
      {"https://10.0.0.1:6443", true, "10.0.0.1", 6443, "", true, false,
       "10.0.0.1:6443"},
      {"https://[::1]:6443", true, "::1", 6443, "", true, true, "[::1]:6443"},
      {"https://[fd00::10]", true, "fd00::10", 443, "", true, true,
       "[fd00::10]"},
      {"https://rancher.example/k8s/clusters/c-1/", true, "rancher.example",
       443, "/k8s/clusters/c-1", false, false, "rancher.example"},
      {"http://api.example.com", false},
      {"api.example.com:6443", false},
      {"https://::1:6443", false},
      {"https://[::1", false},
      {"https://[not-v6]:443", false},
      {"https://host:0", false},
      {"https://host:65536", false},
      {"https://host:", false},
      {"https://host:12ab", false},
      {"https://user@host", false},
      {"https://host/?q=1", false},
      {"https://", false},
      {"https://ho st", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    auto u = parse_https_url(c.url);
    ASSERT_EQ(u.ok(), c.ok);
    if (!c.ok) {
      EXPECT_EQ(u.error().kind, HttpError::Kind::kConfig);
      EXPECT_NE(u.error().message.find("invalid server URL"),
                std::string::npos);
      continue;
    }
    EXPECT_EQ(u->host, c.host);
    EXPECT_EQ(u->port, c.port);
    EXPECT_EQ(u->base_path, c.base);
    EXPECT_EQ(u->ip_literal, c.ip);
    EXPECT_EQ(u->ipv6, c.v6);
    EXPECT_EQ(u->authority(), c.authority);
  }
}

// ---- TLS -------------------------------------------------------------------

}  // namespace
