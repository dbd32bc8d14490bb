// Tests of the Kubernetes API client (kubeapi.h) against a real OpenSSL
// server on loopback answering as kube-apiserver does: what each read asks
// for, how reads share one connection, LIST paging and node identity. How a
// failed call ends (retries, the budget, errors) is kubeapi_errors_test.cc.
#include "kubeapi.h"

#include <functional>

#include "base64.h"
#include "tls_test_server.h"

namespace {

using namespace tls_test_server;

TEST(ApiSession, GetPodAndServiceAccount) {
  TestServer server(ServeWith(TestPki().server),
                    [](const std::string& head, int, int) {
                      if (head.find("/pods/") != std::string::npos) {
                        return Respond(200, "OK", R"({"kind":"Pod",
                          "metadata":{"name":"p","uid":"u-1"},
                          "spec":{"nodeName":"node1","serviceAccountName":"sa",
                          "imagePullSecrets":[{"name":"a"},{},{"name":"b"}]}})");
                      }
                      return Respond(200, "OK", R"({"kind":"ServiceAccount",
                        "imagePullSecrets":[{"name":"c"}]})");
                    });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));
  auto pod = api.get_pod("team-a", "web-0");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->uid, "u-1");
  EXPECT_EQ(pod->node_name, "node1");
  EXPECT_EQ(pod->service_account, "sa");
  EXPECT_EQ(pod->image_pull_secrets, (std::vector<std::string>{"a", "b"}));
  auto sa = api.get_service_account_pull_secrets("team-a", "sa");
  ASSERT_TRUE(sa.ok()) << sa.error().message;
  EXPECT_EQ(*sa, std::vector<std::string>{"c"});
  EXPECT_EQ(server.paths(),
            (std::vector<std::string>{
                "/api/v1/namespaces/team-a/pods/web-0",
                "/api/v1/namespaces/team-a/serviceaccounts/sa"}));
  EXPECT_EQ(api.requests(), 2);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_NE((server.heads()[0] + "\r\n")
                .find("\r\nAuthorization: Bearer secret-token-value\r\n"),
            std::string::npos);
}

TEST(ApiSession, IndependentReadsGoOutTogetherAndAreRetriedAlone) {
  std::atomic<int> sa_asked{0};
  TestServer server(
      ServeWith(TestPki().server), [&](const std::string& head, int, int) {
        if (head.find("/pods/") != std::string::npos) {
          return Respond(200, "OK",
                         R"({"metadata":{"uid":"u-1"},
                         "spec":{"serviceAccountName":"sa"}})");
        }
        if (head.find("/serviceaccounts/") != std::string::npos) {
          // The first answer is a 503: only this read is asked again.
          if (sa_asked++ == 0) {
            return Respond(503, "Service Unavailable",
                           StatusBody(503, "ServiceUnavailable", "busy"));
          }
          return Respond(200, "OK", R"({"imagePullSecrets":[{"name":"c"}]})");
        }
        if (head.find("/secrets/gone") != std::string::npos) {
          return Respond(404, "Not Found", StatusBody(404, "NotFound", "gone"));
        }
        return Respond(200, "OK",
                       R"({"metadata":{"name":"s"},
                       "type":"kubernetes.io/dockerconfigjson",
                       "data":{".dockerconfigjson":"e30="}})");
      });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));
  auto both = api.get_pod_and_service_account("team-a", "web-0", "sa");
  ASSERT_TRUE(both.pod.ok()) << both.pod.error().message;
  EXPECT_EQ(both.pod->uid, "u-1");
  ASSERT_TRUE(both.service_account_pull_secrets.ok())
      << both.service_account_pull_secrets.error().message;
  EXPECT_EQ(*both.service_account_pull_secrets, std::vector<std::string>{"c"});
  auto secrets = api.get_secrets("team-a", {"s", "gone", "s2"});
  ASSERT_EQ(secrets.size(), 3u);
  ASSERT_TRUE(secrets[0].ok() && secrets[0]->has_value());
  EXPECT_EQ((*secrets[0])->config, "{}");
  ASSERT_TRUE(secrets[1].ok());
  EXPECT_FALSE(secrets[1]->has_value());
  ASSERT_TRUE(secrets[2].ok() && secrets[2]->has_value());
  EXPECT_EQ(server.paths(), (std::vector<std::string>{
                                "/api/v1/namespaces/team-a/pods/web-0",
                                "/api/v1/namespaces/team-a/serviceaccounts/sa",
                                "/api/v1/namespaces/team-a/serviceaccounts/sa",
                                "/api/v1/namespaces/team-a/secrets/s",
                                "/api/v1/namespaces/team-a/secrets/gone",
                                "/api/v1/namespaces/team-a/secrets/s2"}));
  EXPECT_EQ(api.requests(), 6);
  EXPECT_EQ(server.connections(), 1);
}

TEST(ApiSession, SecretsTable) {
  const std::string cfgjson =
      R"({"auths":{"mirror.example.com":{"auth":"dXNlcjpwYXNz"}}})";
  const std::string cfg = R"({"mirror.example.com":{"auth":"dXNlcjpwYXNz"}})";
  TestServer server(
      ServeWith(TestPki().server), [&](const std::string& head, int, int) {
        std::string line = head.substr(0, head.find("\r\n"));
        if (line.find("dockerconfigjson&") != std::string::npos) {
          return Respond(200, "OK",
                         R"({"kind":"SecretList","items":[
              {"metadata":{"name":"s1"},"type":"kubernetes.io/dockerconfigjson",
               "data":{".dockerconfigjson":")" +
                             base64_encode(cfgjson) + R"("}},
              {"metadata":{"name":"s2"},"type":"kubernetes.io/dockerconfigjson",
               "data":{}},
              {"metadata":{"name":"s3"},"type":"kubernetes.io/dockerconfigjson",
               "data":{".dockerconfigjson":"%%not base64%%"}}]})");
        }
        if (line.find("dockercfg&") != std::string::npos) {
          return Respond(200, "OK",
                         R"({"kind":"SecretList","items":[
              {"metadata":{"name":"old"},"type":"kubernetes.io/dockercfg",
               "data":{".dockercfg":")" +
                             base64_encode(cfg) + R"("}}]})");
        }
        if (line.find("/secrets/gone ") != std::string::npos) {
          return Respond(
              404, "Not Found",
              StatusBody(404, "NotFound", R"(secrets \"gone\" not found)"));
        }
        if (line.find("/secrets/bad ") != std::string::npos) {
          return Respond(200, "OK", R"({"metadata":{"name":"bad"},
              "type":"kubernetes.io/dockerconfigjson",
              "data":{".dockerconfigjson":"!!!"}})");
        }
        return Respond(200, "OK",
                       R"({"metadata":{"name":"one"},
            "type":"kubernetes.io/dockerconfigjson",
            "data":{".dockerconfigjson":")" +
                           base64_encode(cfgjson) + R"("}})");
      });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));

  auto list = api.list_pull_secrets("ns1");
  ASSERT_TRUE(list.ok()) << list.error().message;
  struct Want {
    std::string name, type, config;
  };
  const Want want[] = {
      {"s1", "kubernetes.io/dockerconfigjson", cfgjson},
      {"s2", "kubernetes.io/dockerconfigjson", ""},
      {"s3", "kubernetes.io/dockerconfigjson", ""},
      {"old", "kubernetes.io/dockercfg", cfg},
  };
  ASSERT_EQ(list->size(), std::size(want));
  for (std::size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ((*list)[i].name, want[i].name);
    EXPECT_EQ((*list)[i].type, want[i].type);
    EXPECT_EQ((*list)[i].config, want[i].config);
  }

  auto one = api.get_secret("ns1", "one");
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->name, "one");
  EXPECT_EQ((*one)->config, cfgjson);

  auto gone = api.get_secret("ns1", "gone");
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_FALSE(gone->has_value());

  // Data that is not base64 reads as a missing key: the caller skips it.
  auto bad = api.get_secret("ns1", "bad");
  ASSERT_TRUE(bad.ok()) << bad.error().message;
  ASSERT_TRUE(bad->has_value());
  EXPECT_EQ((*bad)->name, "bad");
  EXPECT_EQ((*bad)->type, "kubernetes.io/dockerconfigjson");
  EXPECT_EQ((*bad)->config, "");

  auto encoded = api.get_secret("ns1", "we ird/na%me");
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;

  EXPECT_EQ(
      server.paths(),
      (std::vector<std::string>{
          "/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%"
          "2Fdockerconfigjson&limit=500",
          "/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%"
          "2Fdockercfg&limit=500",
          "/api/v1/namespaces/ns1/secrets/one",
          "/api/v1/namespaces/ns1/secrets/gone",
          "/api/v1/namespaces/ns1/secrets/bad",
          "/api/v1/namespaces/ns1/secrets/we%20ird%2Fna%25me",
      }));
  EXPECT_EQ(api.requests(), 6);
  EXPECT_EQ(server.connections(), 1);
}

// A SecretList page: `names` as dockerconfigjson secrets, then
// metadata.continue when `next` is not empty.
std::string ListPage(const std::vector<std::string>& names,
                     const std::string& next) {
  std::string body = R"({"kind":"SecretList","metadata":{)";
  if (!next.empty()) body += R"("continue":")" + next + R"(")";
  body += R"(},"items":[)";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) body += ",";
    body += R"({"metadata":{"name":")" + names[i] +
            R"("},"type":"kubernetes.io/dockerconfigjson","data":{}})";
  }
  return body + "]}";
}

// The request line's target.
std::string TargetOf(const std::string& head) {
  std::size_t a = head.find(' ');
  return head.substr(a + 1, head.find(' ', a + 1) - a - 1);
}

TEST(ApiSession, ListsArePagedAndTheirPagesPipelined) {
  TestServer server(
      ServeWith(TestPki().server), [](const std::string& head, int, int) {
        const std::string target = TargetOf(head);
        const bool cfg = target.find("dockercfg&") != std::string::npos;
        const std::size_t at = target.find("&continue=");
        const std::string token =
            at == std::string::npos ? "" : target.substr(at + 10);
        if (cfg) {
          if (token.empty()) return Respond(200, "OK", ListPage({"c1"}, "d1"));
          return Respond(200, "OK", ListPage({"c2"}, ""));
        }
        if (token.empty()) return Respond(200, "OK", ListPage({"j1"}, "t/1="));
        if (token == "t%2F1%3D") {
          return Respond(200, "OK", ListPage({"j2", "j3"}, "t2"));
        }
        return Respond(200, "OK", ListPage({"j4"}, ""));
      });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));
  auto list = api.list_pull_secrets("ns1");
  ASSERT_TRUE(list.ok()) << list.error().message;
  std::vector<std::string> names;
  for (const PullSecret& s : *list) names.push_back(s.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"j1", "c1", "j2", "j3", "c2", "j4"}));
  const std::string json =
      "/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%"
      "2Fdockerconfigjson&limit=500";
  const std::string cfg =
      "/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%"
      "2Fdockercfg&limit=500";
  EXPECT_EQ(server.paths(), (std::vector<std::string>{
                                json, cfg, json + "&continue=t%2F1%3D",
                                cfg + "&continue=d1", json + "&continue=t2"}));
  EXPECT_EQ(api.requests(), 5);
  EXPECT_EQ(server.connections(), 1);
}

TEST(ApiSession, ListPagingIsBounded) {
  struct Case {
    std::string name;
    std::function<Reply(const std::string& target, int req)> reply;
    std::string message_part;
    int max_requests;
  };
  const std::string many_items = [] {
    std::string items;
    for (std::size_t i = 0; i < kMaxListItems / 2 + 1; ++i) {
      items += i == 0 ? "{}" : ",{}";
    }
    return R"({"items":[)" + items + "]}";
  }();
  const Case cases[] = {
      {"the token it was asked for, again",
       [](const std::string&, int) {
         return Respond(200, "OK", ListPage({}, "first"));
       },
       "same continue token", 4},
      {"a new token every page, forever",
       [](const std::string&, int req) {
         return Respond(200, "OK", ListPage({}, "t" + std::to_string(req)));
       },
       "more than 1000 pages", kMaxListPages},
      {"too many items",
       [&](const std::string&, int) { return Respond(200, "OK", many_items); },
       "more than 100000 pull secrets", 2},
      {"a token too long to send back",
       [](const std::string&, int) {
         return Respond(200, "OK",
                        ListPage({}, std::string(kMaxContinueToken + 1, 'x')));
       },
       "metadata.continue is longer than 4096 bytes", 2},
      {"a token with a space",
       [](const std::string&, int) {
         return Respond(200, "OK", ListPage({}, "a b"));
       },
       "not printable ASCII", 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string& head, int, int req) {
                        return c.reply(TargetOf(head), req);
                      });
    ASSERT_TRUE(server.ok());
    ApiSession api(ApiTo(server, 20000));
    auto list = api.list_pull_secrets("ns1");
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.error().kind, ApiError::Kind::kDecode);
    EXPECT_NE(list.error().message.find(c.message_part), std::string::npos)
        << list.error().message;
    EXPECT_LE(api.requests(), c.max_requests);
  }
}

TEST(ApiSession, NodeIdentityWithClientCertificate) {
  const Pki& pki = TestPki();
  TestServer::Options o = ServeWith(pki.server);
  o.client_ca = &pki.client_ca;
  TestServer server(o, [](const std::string&, int, int) {
    return Respond(200, "OK", R"({"spec":{"nodeName":"node1"}})");
  });
  ASSERT_TRUE(server.ok());
  ApiConfig config = ApiTo(server);
  config.bearer_token.clear();
  config.client_cert_pem = pki.client.cert_pem;
  config.client_key_pem = pki.client.key_pem;
  ApiSession api(config);
  auto pod = api.get_pod("ns1", "p");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->node_name, "node1");
  EXPECT_EQ(server.client_cns(), std::vector<std::string>{"system:node:node1"});
  EXPECT_EQ(server.heads()[0].find("Authorization"), std::string::npos);
}

}  // namespace
