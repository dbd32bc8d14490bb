#include "credential_provider_config.h"

#include <gtest/gtest.h>

TEST(CredentialProviderConfig, ReadsOurEntry) {
  auto c = parse_credential_provider_config(R"(
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: other
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["x.io"]
    defaultCacheDuration: 1m
  - name: crio-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["docker.io", "*.quay.io"]
    defaultCacheDuration: "0s"
    tokenAttributes:
      serviceAccountTokenAudience: aud
      requireServiceAccount: false
    args: ["--auth-dir=/a"]
)",
                                            "p");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const ProviderEntry* e = c->ours();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->match_images,
            (std::vector<std::string>{"docker.io", "*.quay.io"}));
  EXPECT_EQ(e->default_cache_duration, "0s");
  EXPECT_TRUE(e->has_token_attributes);
  EXPECT_EQ(e->audience, "aud");
  EXPECT_EQ(e->cache_type, "");
  EXPECT_EQ(e->require_service_account, false);
  EXPECT_EQ(e->args, std::vector<std::string>{"--auth-dir=/a"});
}

TEST(CredentialProviderConfig, ErrorsNameTheFile) {
  auto wrong = parse_credential_provider_config("kind: Pod\n", "/etc/x.yaml");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("/etc/x.yaml"), std::string::npos);
  auto broken = parse_credential_provider_config("a: [", "/etc/y.yaml");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("not valid YAML"), std::string::npos);
  auto missing = load_credential_provider_config("/nonexistent/c.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("--credential-provider-config"),
            std::string::npos);
}
