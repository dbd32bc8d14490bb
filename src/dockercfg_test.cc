#include "dockercfg.h"

#include <gtest/gtest.h>

TEST(DockerConfig, ParsesBothSecretTypes) {
  auto json = parse_pull_secret(
      "kubernetes.io/dockerconfigjson",
      R"({"auths":{"m.io":{"auth":"dXNlcjpwYTpzcw=="},"n.io":{"username":"u","password":"p"}}})");
  ASSERT_TRUE(json.ok()) << json.error().message;
  ASSERT_EQ(json->size(), 2u);
  EXPECT_EQ((*json)[0].key, "m.io");
  EXPECT_EQ((*json)[0].username, "user");
  EXPECT_EQ((*json)[0].password, "pa:ss");  // split at the first ':'
  EXPECT_EQ((*json)[1].username, "u");

  auto legacy = parse_pull_secret(
      "kubernetes.io/dockercfg",
      R"({"https://m.io/v1/":{"Username":"u","Password":"p"}})");
  ASSERT_TRUE(legacy.ok());
  ASSERT_EQ(legacy->size(), 1u);
  EXPECT_EQ((*legacy)[0].username,
            "u");  // field names match case-insensitively
}

TEST(DockerConfig, AuthOverridesUsernameAndPassword) {
  auto entries = parse_dockercfg(
      R"({"m.io":{"username":"x","password":"y","auth":"YTpi"}})");
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].username, "a");
  EXPECT_EQ((*entries)[0].password, "b");
}

TEST(DockerConfig, RejectsMalformedWithoutEchoingSecrets) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "JSON"},
      {R"({"auths":{"m.io":{"auth":"c2VjcmV0"}}})",
       "username:password"},  // "secret"
      {R"({"auths":{"m.io":{"auth":"!!!"}}})", "base64"},
      {R"({"auths":{"m.io":{"password":5}}})", "not a string"},
      {R"({"auths":{"m.io":"hunter2"}})", "not an object"},
  };
  for (const auto& [json, why] : cases) {
    auto entries = parse_docker_config(json);
    ASSERT_FALSE(entries.ok()) << json;
    EXPECT_NE(entries.error().message.find(why), std::string::npos)
        << entries.error().message;
    EXPECT_EQ(entries.error().message.find("secret\""), std::string::npos);
    EXPECT_EQ(entries.error().message.find("hunter2"), std::string::npos);
  }
  EXPECT_FALSE(parse_pull_secret("Opaque", "{}").ok());
}

TEST(DockerConfig, DetectsFormat) {
  auto modern = parse_docker_config(R"({"auths":{"a.io":{"username":"u"}}})");
  ASSERT_TRUE(modern.ok());
  EXPECT_EQ((*modern)[0].key, "a.io");
  auto legacy = parse_docker_config(R"({"a.io":{"username":"u"}})");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ((*legacy)[0].key, "a.io");
  auto empty = parse_dockerconfigjson(R"({"credHelpers":{}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}
