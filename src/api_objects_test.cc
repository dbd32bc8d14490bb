// Tests of the API's JSON answers decoded into plain structs
// (api_objects.h), fed from memory. How the client fetches them is
// kubeapi_test.cc.
#include "api_objects.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

TEST(DecodePod, FieldsAndTheOlderServiceAccountField) {
  auto pod = decode_pod(R"({"metadata":{"uid":"u-1"},
      "spec":{"nodeName":"node1","serviceAccount":"old-sa",
      "imagePullSecrets":[{"name":"a"},{},{"name":""},{"name":"b"}]}})");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->uid, "u-1");
  EXPECT_EQ(pod->node_name, "node1");
  // spec.serviceAccount only counts when serviceAccountName is not set.
  EXPECT_EQ(pod->service_account, "old-sa");
  EXPECT_EQ(pod->image_pull_secrets, (std::vector<std::string>{"a", "b"}));
  auto both = decode_pod(
      R"({"spec":{"serviceAccountName":"sa","serviceAccount":"old-sa"}})");
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->service_account, "sa");
}

TEST(DecodeSecret, OnlyThePullSecretKeyOfItsType) {
  struct Case {
    std::string name, body, type, config;
  };
  const Case cases[] = {
      {"dockerconfigjson",
       R"({"metadata":{"name":"s"},"type":"kubernetes.io/dockerconfigjson",
           "data":{".dockerconfigjson":"e30=",".dockercfg":"W10="}})",
       "kubernetes.io/dockerconfigjson", "{}"},
      {"dockercfg",
       R"({"metadata":{"name":"s"},"type":"kubernetes.io/dockercfg",
           "data":{".dockerconfigjson":"e30=",".dockercfg":"W10="}})",
       "kubernetes.io/dockercfg", "[]"},
      {"another type",
       R"({"metadata":{"name":"s"},"type":"Opaque",
           "data":{".dockerconfigjson":"e30="}})",
       "Opaque", ""},
      {"key missing",
       R"({"metadata":{"name":"s"},"type":"kubernetes.io/dockerconfigjson",
           "data":{}})",
       "kubernetes.io/dockerconfigjson", ""},
      {"not base64",
       R"({"metadata":{"name":"s"},"type":"kubernetes.io/dockerconfigjson",
           "data":{".dockerconfigjson":"!!!"}})",
       "kubernetes.io/dockerconfigjson", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto secret = decode_secret(c.body);
    ASSERT_TRUE(secret.ok()) << secret.error().message;
    EXPECT_EQ(secret->name, "s");
    EXPECT_EQ(secret->type, c.type);
    EXPECT_EQ(secret->config, c.config);
  }
}

TEST(DecodeSecretList, ItemsAndTheContinueToken) {
  auto page = decode_secret_list(R"({"kind":"SecretList",
      "metadata":{"continue":"eyJ2IjoxfQ=="},
      "items":[{"metadata":{"name":"a"},"type":"kubernetes.io/dockercfg",
                "data":{".dockercfg":"e30="}},{}]})");
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->continue_token, "eyJ2IjoxfQ==");
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].name, "a");
  EXPECT_EQ(page->items[0].config, "{}");
  EXPECT_EQ(page->items[1].name, "");
}

TEST(DecodeErrors, OneLineNamingTheFieldNeverTheValue) {
  struct Case {
    std::string name;
    Result<Ok> (*decode)(std::string_view);
    std::string body, message;
  };
  auto pod = [](std::string_view b) -> Result<Ok> {
    auto r = decode_pod(b);
    if (!r) return r.error();
    return Ok{};
  };
  auto list = [](std::string_view b) -> Result<Ok> {
    auto r = decode_secret_list(b);
    if (!r) return r.error();
    return Ok{};
  };
  const std::string long_token(kMaxContinueToken + 1, 'x');
  const Case cases[] = {
      {"pod uid", pod, R"({"metadata":{"uid":["hidden"]}})",
       "pod metadata.uid is not a string"},
      {"pod serviceAccountName", pod,
       R"({"spec":{"serviceAccountName":{"n":"hidden"}}})",
       "pod spec.serviceAccountName is not a string"},
      {"pod pull secret names", pod,
       R"({"spec":{"imagePullSecrets":["hidden"]}})",
       "pod spec.imagePullSecrets is not a list of names"},
      {"list items", list, R"({"items":{"a":"hidden"}})",
       "secret list items is not a list"},
      {"list item", list, R"({"items":["hidden"]})",
       "secret list item is not an object"},
      {"list token too long", list,
       R"({"metadata":{"continue":")" + long_token + R"("}})",
       "secret list metadata.continue is longer than 4096 bytes"},
      {"list token not printable", list,
       R"({"metadata":{"continue":"a\u0001hidden"}})",
       "secret list metadata.continue holds a byte that is not printable "
       "ASCII"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = c.decode(c.body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, c.message);
    EXPECT_EQ(r.error().message.find("hidden"), std::string::npos);
  }
}

TEST(DecodeStatus, ReasonAndMessageOrNothing) {
  ApiStatus status = decode_status(
      R"({"kind":"Status","code":403,"reason":"Forbidden","message":"no"})");
  EXPECT_EQ(status.reason, "Forbidden");
  EXPECT_EQ(status.message, "no");
  for (const char* body : {"<html>busy</html>", "[]", R"({"reason":7})"}) {
    SCOPED_TRACE(body);
    status = decode_status(body);
    EXPECT_EQ(status.reason, "");
    EXPECT_EQ(status.message, "");
  }
}

}  // namespace
