#include "token.h"

#include <gtest/gtest.h>

#include "base64.h"

namespace {

std::string Jwt(const std::string& payload) {
  std::string p = base64_encode(payload);
  for (char& c : p) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!p.empty() && p.back() == '=') p.pop_back();
  return "eyJhbGciOiJSUzI1NiJ9." + p + ".c2lnbmF0dXJl";
}

}  // namespace

TEST(Token, ReadsPodBoundClaims) {
  auto id = identity_from_token(Jwt(
      R"({"aud":["x"],"sub":"system:serviceaccount:team-a:builder","kubernetes.io":{"namespace":"team-a","pod":{"name":"web-0","uid":"u1"},"serviceaccount":{"name":"builder","uid":"u2"},"node":{"name":"node-1","uid":"u3"}}})"));
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->ns, "team-a");
  EXPECT_EQ(id->pod_name, "web-0");
  EXPECT_EQ(id->pod_uid, "u1");
  EXPECT_EQ(id->service_account, "builder");
  EXPECT_EQ(id->node_name, "node-1");
}

TEST(Token, RejectsWithClearErrors) {
  const std::pair<std::string, const char*> cases[] = {
      {"not-a-jwt", "not a JWT"},
      {"a.b", "not a JWT"},
      {"a.!!!.c", "not a JWT"},
      {Jwt("[]"), "not a JWT"},
      {Jwt(R"({"sub":"someone"})"), "no namespace"},
      {Jwt(R"({"sub":"system:serviceaccount:team-a:sa"})"),
       "not bound to a pod"},
      {Jwt(R"({"kubernetes.io":{"namespace":"../etc","pod":{"name":"p"}}})"),
       "DNS-1123"},
      {Jwt(R"({"kubernetes.io":{"namespace":"Team","pod":{"name":"p"}}})"),
       "DNS-1123"},
      {Jwt(R"({"kubernetes.io":{"namespace":"a","pod":{"name":"p/../x"}}})"),
       "valid Kubernetes name"},
  };
  for (const auto& [token, why] : cases) {
    auto id = identity_from_token(token);
    ASSERT_FALSE(id.ok()) << token;
    EXPECT_NE(id.error().message.find(why), std::string::npos)
        << id.error().message;
    EXPECT_EQ(id.error().message.find(token), std::string::npos);
  }
}

TEST(Token, Dns1123) {
  EXPECT_TRUE(is_dns1123_label("default"));
  EXPECT_TRUE(is_dns1123_label("a-1"));
  EXPECT_FALSE(is_dns1123_label(""));
  EXPECT_FALSE(is_dns1123_label("-a"));
  EXPECT_FALSE(is_dns1123_label("a.b"));
  EXPECT_FALSE(is_dns1123_label(std::string(64, 'a')));
  EXPECT_TRUE(is_dns1123_subdomain("a.b-c"));
  EXPECT_FALSE(is_dns1123_subdomain("a..b"));
  EXPECT_FALSE(is_dns1123_subdomain("A"));
}
