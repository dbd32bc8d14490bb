#include "hosts_toml.h"

#include <gtest/gtest.h>

TEST(HostsToml, GatewayOnlyNoFallback) {
  std::string t = hosts_toml("https://127.0.0.1:5443", "/etc/ccp/gateway.crt");
  EXPECT_NE(t.find("server = \"https://127.0.0.1:5443\"\n"), std::string::npos);
  EXPECT_NE(t.find("ca = \"/etc/ccp/gateway.crt\"\n"), std::string::npos);
  // The empty [host] table is what keeps containerd off the registry.
  EXPECT_TRUE(t.ends_with("\n[host]\n"));
}

TEST(HostsToml, RegistriesWithMirrorsOrRewrites) {
  auto conf = parse_registries(R"(
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.corp/hub"
[[registry]]
prefix = "quay.io/team"
location = "mirror.corp/quay/team"
[[registry]]
location = "plain.io"
[[registry]]
prefix = "*.example.com"
location = "mirror.corp/example"
)",
                               "test");
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  auto hosts = gateway_registries(*conf, {"ghcr.io", "docker.io"});
  EXPECT_EQ(hosts,
            (std::vector<std::string>{"docker.io", "quay.io", "ghcr.io"}));
}
