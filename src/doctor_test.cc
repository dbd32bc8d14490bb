#include "doctor.h"

#include <gtest/gtest.h>

namespace {

ProviderEntry GoodEntry() {
  ProviderEntry e;
  e.name = "crio-credential-provider";
  e.api_version = "credentialprovider.kubelet.k8s.io/v1";
  e.match_images = {"docker.io"};
  e.default_cache_duration = "0s";
  e.has_token_attributes = true;
  e.audience = "aud";
  e.cache_type = "Token";
  e.require_service_account = true;
  return e;
}

// A copy: the callers pass check_provider_entry's result, a temporary that
// is gone by the time they look at the check (ASan: heap-use-after-free).
CheckResult Find(const std::vector<CheckResult>& checks,
                 const std::string& name) {
  for (const CheckResult& c : checks)
    if (c.name == name) return c;
  return CheckResult{"none", CheckStatus::kFail, "missing", ""};
}

RegistriesConf Conf() {
  return *parse_registries(
      "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\n"
      "location = \"mirror.corp/hub\"\n",
      "test");
}

}  // namespace

TEST(Doctor, GoodEntryIsAllOk) {
  RegistriesConf conf = Conf();
  for (const CheckResult& c :
       check_provider_entry(GoodEntry(), ProviderOptions{}, &conf))
    EXPECT_EQ(c.status, CheckStatus::kOk) << c.name << ": " << c.message;
}

TEST(Doctor, EachMistakeFailsWithItsFix) {
  RegistriesConf conf = Conf();
  ProviderEntry mirror_only = GoodEntry();
  mirror_only.match_images = {"mirror.corp"};
  const CheckResult m =
      Find(check_provider_entry(mirror_only, ProviderOptions{}, &conf),
           "match-images");
  EXPECT_EQ(m.status, CheckStatus::kFail);
  EXPECT_NE(m.message.find("name only mirrors"), std::string::npos);

  ProviderEntry narrow = GoodEntry();
  narrow.match_images = {"quay.io"};
  EXPECT_EQ(Find(check_provider_entry(narrow, ProviderOptions{}, &conf),
                 "match-images")
                .status,
            CheckStatus::kFail);

  ProviderEntry no_token = GoodEntry();
  no_token.has_token_attributes = false;
  EXPECT_EQ(Find(check_provider_entry(no_token, ProviderOptions{}, &conf),
                 "token-attributes")
                .status,
            CheckStatus::kFail);
  ProviderOptions node;
  node.cluster.api_identity = ApiIdentity::kNode;
  EXPECT_EQ(
      Find(check_provider_entry(no_token, node, &conf), "token-attributes")
          .status,
      CheckStatus::kWarn);

  ProviderEntry no_cache_type = GoodEntry();
  no_cache_type.cache_type = "";
  const CheckResult ct =
      Find(check_provider_entry(no_cache_type, ProviderOptions{}, &conf),
           "cache-type");
  EXPECT_EQ(ct.status, CheckStatus::kFail);
  EXPECT_NE(ct.fix.find("cacheType: Token"), std::string::npos);

  ProviderEntry no_default = GoodEntry();
  no_default.default_cache_duration.reset();
  EXPECT_EQ(Find(check_provider_entry(no_default, ProviderOptions{}, &conf),
                 "cache-duration")
                .status,
            CheckStatus::kFail);
  ProviderOptions cached;
  cached.cache_duration = std::chrono::minutes(5);
  EXPECT_EQ(
      Find(check_provider_entry(GoodEntry(), cached, &conf), "cache-duration")
          .status,
      CheckStatus::kWarn);
}

TEST(Doctor, PatternsCoverPrefixesAsKubeletMatches) {
  EXPECT_TRUE(pattern_covers_prefix("docker.io", "docker.io"));
  EXPECT_TRUE(pattern_covers_prefix("docker.io", "docker.io/library"));
  EXPECT_FALSE(pattern_covers_prefix("docker.io/library", "docker.io"));
  EXPECT_TRUE(pattern_covers_prefix("*.example.com", "*.example.com"));
  EXPECT_FALSE(pattern_covers_prefix("example.com", "*.example.com"));
  EXPECT_FALSE(pattern_covers_prefix("localhost", "localhost:5000"));
}

TEST(Doctor, FeatureGateByKubeletVersion) {
  std::array<int, 3> v133{1, 33, 0}, v136{1, 36, 3}, v132{1, 32, 9};
  EXPECT_EQ(check_feature_gate(&v136, std::nullopt).status, CheckStatus::kOk);
  EXPECT_EQ(check_feature_gate(&v136, false).status, CheckStatus::kFail);
  EXPECT_EQ(check_feature_gate(&v133, std::nullopt).status, CheckStatus::kFail);
  EXPECT_EQ(check_feature_gate(&v133, true).status, CheckStatus::kOk);
  EXPECT_EQ(check_feature_gate(&v132, true).status, CheckStatus::kFail);
  EXPECT_EQ(check_feature_gate(nullptr, std::nullopt).status,
            CheckStatus::kWarn);
}
