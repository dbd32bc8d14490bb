#include "kubelet_config.h"

#include <gtest/gtest.h>

#include "flags.h"

TEST(KubeletConfig, WildcardsBecomeOnePatternPerDepth) {
  EXPECT_EQ(kubelet_patterns("docker.io"),
            std::vector<std::string>{"docker.io"});
  EXPECT_EQ(kubelet_patterns("localhost:5000/team"),
            std::vector<std::string>{"localhost:5000/team"});
  EXPECT_EQ(kubelet_patterns("*.example.com"),
            (std::vector<std::string>{"*.example.com", "*.*.example.com",
                                      "*.*.*.example.com"}));
}

TEST(KubeletConfig, OnlyPrefixesWithMirrorsOrRewritesInScope) {
  auto conf = parse_registries(R"(
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.corp/hub"

[[registry]]
location = "quay.io"

[[registry]]
prefix = "gcr.io/team"
location = "registry.corp/gcr-team"

[[registry]]
prefix = "*.example.com"
[[registry.mirror]]
location = "other.corp/example"

[[registry]]
prefix = "*.nomirror.com"

[[registry]]
location = "ghcr.io"
[[registry.mirror]]
location = "blocked.corp"

[[registry]]
location = "blocked.corp"
blocked = true
)",
                               "test");
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(
      prefixes_needing_provider(*conf, {}),
      (std::vector<std::string>{"*.example.com", "docker.io", "gcr.io/team"}));
  EXPECT_EQ(prefixes_needing_provider(*conf, {"mirror.corp"}),
            std::vector<std::string>{"docker.io"});
}

TEST(KubeletConfig, ArgsAreTheProviderFlagsGiven) {
  auto p = parse_args({"kubelet-config", "--audience=aud", "--api-identity",
                       "node", "--insecure-skip-tls-verify",
                       "--mirror-registry=m.io", "--help=false"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto& o = std::get<KubeletConfigOptions>(p->options);
  EXPECT_EQ(o.audience, "aud");
  EXPECT_EQ(o.provider.cluster.api_identity, ApiIdentity::kNode);
  EXPECT_EQ(o.provider_args,
            (std::vector<std::string>{"--api-identity=node",
                                      "--insecure-skip-tls-verify",
                                      "--mirror-registry=m.io"}));
}

TEST(KubeletConfig, YamlQuotesEveryValue) {
  std::string y = credential_provider_config_yaml(
      {"docker.io", "*.example.com"}, "aud\"x", {"--auth-dir=/a b"});
  EXPECT_NE(y.find("      - \"*.example.com\"\n"), std::string::npos);
  EXPECT_NE(y.find("serviceAccountTokenAudience: \"aud\\\"x\"\n"),
            std::string::npos);
  EXPECT_NE(y.find("cacheType: Token\n"), std::string::npos);
  EXPECT_NE(y.find("requireServiceAccount: true\n"), std::string::npos);
  EXPECT_NE(y.find("    args:\n      - \"--auth-dir=/a b\"\n"),
            std::string::npos);
}
