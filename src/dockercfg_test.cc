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

namespace {

// The one entry of a dockerconfigjson document, as "key user:password".
std::string One(const std::string& json) {
  auto entries = parse_dockerconfigjson(json);
  if (!entries) return "error: " + entries.error().message;
  std::string out;
  for (const auto& e : *entries)
    out +=
        (out.empty() ? "" : ", ") + e.key + " " + e.username + ":" + e.password;
  return out;
}

}  // namespace

// As Go's encoding/json decodes into kubelet's DockerConfigJSON.
TEST(DockerConfig, DecodesAsGoEncodingJson) {
  // Field names fold like Go's foldName: U+017F is 's', U+212A is 'k'.
  EXPECT_EQ(One(R"({"auth\u017f":{"m":{"u\u017fername":"u","PASSWORD":"p"}}})"),
            "m u:p");
  EXPECT_EQ(One("{\"auths\":{\"m\":{\"u\xC5\xBF"
                "ername\":\"u\"}}}"),
            "m u:");
  // The last of two spellings of one field wins; null leaves it alone.
  EXPECT_EQ(
      One(R"({"auths":{"m":{"username":"a","Username":"b","USERNAME":null}}})"),
      "m b:");
  // A key given twice: both values decoded, the last kept, an invalid first
  // one fails the secret.
  EXPECT_EQ(One(R"({"auths":{"m":{"username":"a"},"m":{"password":"p"}}})"),
            "m :p");
  EXPECT_NE(One(R"({"auths":{"m":{"username":5},"m":{}}})").find("error"),
            std::string::npos);
  // Two spellings of "auths" fill one map; null empties it.
  EXPECT_EQ(One(R"({"auths":{"a":{}},"Auths":{"b":{}}})"), "a :, b :");
  EXPECT_EQ(One(R"({"auths":{"a":{}},"AUTHS":null,"auths":{"b":{}}})"), "b :");
  // Each invalid UTF-8 byte and each lone surrogate becomes U+FFFD, a pair
  // stays a pair.
  EXPECT_EQ(One("{\"auths\":{\"m\":{\"username\":\"a\xFF\xE2\x82\"}}}"),
            "m a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD:");
  EXPECT_EQ(One(R"({"auths":{"m":{"username":"\ud800x\udc00\ud83d\ude00"}}})"),
            "m \xEF\xBF\xBDx\xEF\xBF\xBD\xF0\x9F\x98\x80:");
  EXPECT_EQ(One(R"({"auths":{"m":{"username":"\ud800\ud800\udc00"}}})"),
            "m \xEF\xBF\xBD\xF0\x90\x80\x80:");
  // A byte-order mark is an error; null content is an empty config.
  EXPECT_NE(One("\xEF\xBB\xBF{}").find("error"), std::string::npos);
  EXPECT_EQ(One("null"), "");
  EXPECT_EQ(One(R"({"auths":null})"), "");
  EXPECT_TRUE(parse_dockercfg("null")->empty());
  EXPECT_FALSE(parse_dockercfg("[]").ok());
  EXPECT_FALSE(parse_dockerconfigjson("\"x\"").ok());
  // HttpHeaders is decoded too: a map of strings.
  EXPECT_NE(One(R"({"auths":{},"httpheaders":{"a":1}})").find("error"),
            std::string::npos);
  EXPECT_EQ(One(R"({"auths":{"m":{}},"HttpHeaders":{"a":"b","c":null}})"),
            "m :");
  // "auth" as kubelet decodes it: padded or not by its last character,
  // line breaks anywhere skipped.
  EXPECT_EQ(One(R"({"auths":{"m":{"auth":"dTpw"}}})"), "m u:p");
  EXPECT_EQ(One(R"({"auths":{"m":{"auth":"dTpwcQ=\r\n="}}})"), "m u:pq");
  EXPECT_EQ(One(R"({"auths":{"m":{"auth":"dTp\nwcQ"}}})"), "m u:pq");
  EXPECT_NE(One(R"({"auths":{"m":{"auth":"dTpwcQ="}}})").find("error"),
            std::string::npos);
  EXPECT_NE(One(R"({"auths":{"m":{"auth":"dT=pwcQ"}}})").find("error"),
            std::string::npos);
  EXPECT_NE(One(R"({"auths":{"m":{"auth":"dTpwcQ== "}}})").find("error"),
            std::string::npos);
}
