#include "protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace std::chrono_literals;

TEST(Protocol, ParsesEachApiVersion) {
  for (const char* v : {"v1", "v1beta1", "v1alpha1"}) {
    std::string api = std::string("credentialprovider.kubelet.k8s.io/") + v;
    auto req = parse_request(
        R"({"kind":"CredentialProviderRequest","apiVersion":")" + api +
        R"(","image":"docker.io/library/nginx","serviceAccountToken":"t","serviceAccountAnnotations":{}})");
    ASSERT_TRUE(req.ok()) << req.error().message;
    EXPECT_EQ(req->api_version, api);
    EXPECT_EQ(req->image, "docker.io/library/nginx");
    EXPECT_EQ(req->service_account_token, "t");
  }
}

TEST(Protocol, RejectsBadRequests) {
  const std::pair<std::string, const char*> cases[] = {
      {"", "not a JSON"},
      {"{", "not a JSON"},
      {"[]", "not a JSON"},
      {R"({"kind":"Pod","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x"})",
       "not CredentialProviderRequest"},
      {R"({"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v2","image":"x"})",
       "unsupported apiVersion"},
      {R"({"kind":"CredentialProviderRequest","apiVersion":"v1","image":"x"})",
       "unsupported apiVersion"},
      {R"({"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1"})",
       "no image"},
      {std::string(kMaxRequestBytes + 1, ' '), "larger than 1 MiB"},
  };
  for (const auto& [text, why] : cases) {
    auto req = parse_request(text);
    ASSERT_FALSE(req.ok()) << text.substr(0, 80);
    EXPECT_NE(req.error().message.find(why), std::string::npos)
        << req.error().message;
  }
}

TEST(Protocol, ResponseIsWhatKubeletsStrictDecoderWants) {
  auto r = nlohmann::json::parse(
      make_response("credentialprovider.kubelet.k8s.io/v1beta1", 0s));
  EXPECT_EQ(r, nlohmann::json::parse(R"({"kind":"CredentialProviderResponse",
      "apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","cacheKeyType":"Image",
      "cacheDuration":"0s","auth":{}})"));
  auto cached = nlohmann::json::parse(
      make_response("credentialprovider.kubelet.k8s.io/v1", 10min));
  EXPECT_EQ(cached["cacheDuration"], "10m0s");
}

TEST(Protocol, PodBoundAuthIsOneEmptyCredentialForTheImage) {
  for (const char* v : {"v1", "v1beta1", "v1alpha1"}) {
    std::string api = std::string("credentialprovider.kubelet.k8s.io/") + v;
    auto r = nlohmann::json::parse(
        make_response(api, 0s, pod_bound_auth("docker.io/library/hello")));
    EXPECT_EQ(r, nlohmann::json::parse(
                     R"({"kind":"CredentialProviderResponse",
        "apiVersion":")" +
                     api + R"(","cacheKeyType":"Image","cacheDuration":"0s",
        "auth":{"docker.io/library/hello":{"username":"","password":""}}})"));
  }
}
