// Tests of how a call of the Kubernetes API client (kubeapi.h) ends when
// it fails, against a real OpenSSL server on loopback: which answers are
// retried and how long it waits, the one budget of all calls, and the
// ApiError each failure gives (kind, status, reason, message).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "kubeapi.h"
#include "log.h"
#include "tls_test_server.h"

namespace {

using namespace tls_test_server;

TEST(ApiSession, StatusAndRetryTable) {
  struct Case {
    std::string name;
    std::vector<Reply> replies;  // one per request, in order
    bool ok;
    int requests;
    int status;
    std::string reason;
    std::string message_part;
    int min_ms;  // the backoff the client must have waited
  };
  const Reply ok = Respond(200, "OK", R"({"metadata":{"uid":"u"}})");
  const Reply e500 =
      Respond(500, "Internal Server Error",
              StatusBody(500, "InternalError", "etcd is unhappy"));
  const Reply e503 = Respond(503, "Service Unavailable", "<html>busy</html>");
  const Reply e429 = Respond(429, "Too Many Requests",
                             StatusBody(429, "TooManyRequests", "slow down"),
                             "Retry-After: 1\r\n");
  const Reply e429_long = Respond(429, "Too Many Requests",
                                  StatusBody(429, "TooManyRequests", "wait"),
                                  "Retry-After: 3600\r\n");
  const Reply e403 = Respond(
      403, "Forbidden",
      StatusBody(403, "Forbidden",
                 R"(pods \"web-0\" is forbidden: User \"system:serviceaccount:)"
                 R"(team-a:default\" cannot get resource \"pods\")"));
  const Reply e401 = Respond(401, "Unauthorized",
                             StatusBody(401, "Unauthorized", "Unauthorized"));
  const Case cases[] = {
      {"200", {ok}, true, 1, 0, "", "", 0},
      {"429 Retry-After then 200", {e429, ok}, true, 2, 0, "", "", 1000},
      {"503 then 200", {e503, ok}, true, 2, 0, "", "", 100},
      {"500 three times",
       {e500, e500, e500},
       false,
       3,
       500,
       "InternalError",
       "etcd is unhappy",
       500},
      {"503 without Status",
       {e503, e503, e503},
       false,
       3,
       503,
       "",
       "HTTP 503 Service Unavailable",
       500},
      {"403 not retried",
       {e403, ok},
       false,
       1,
       403,
       "Forbidden",
       "cannot get resource \"pods\"",
       0},
      {"401 not retried",
       {e401, ok},
       false,
       1,
       401,
       "Unauthorized",
       "Unauthorized",
       0},
      {"429 Retry-After beyond the budget",
       {e429_long, ok},
       false,
       1,
       429,
       "TooManyRequests",
       "wait",
       0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::atomic<int> n{0};
    TestServer server(
        ServeWith(TestPki().server), [&](const std::string&, int, int) {
          int i = n++;
          return i < static_cast<int>(c.replies.size()) ? c.replies[i] : ok;
        });
    ASSERT_TRUE(server.ok());
    ApiSession api(ApiTo(server, 5000));
    auto start = Clock::now();
    auto pod = api.get_pod("team-a", "web-0");
    auto elapsed = Clock::now() - start;
    EXPECT_EQ(api.requests(), c.requests);
    EXPECT_EQ(n.load(), c.requests);
    EXPECT_GE(elapsed, milliseconds(c.min_ms));
    EXPECT_LT(elapsed, milliseconds(c.min_ms + 1000));
    ASSERT_EQ(pod.ok(), c.ok) << (pod.ok() ? "" : pod.error().message);
    if (c.ok) {
      EXPECT_EQ(pod->uid, "u");
      continue;
    }
    const ApiError& e = pod.error();
    EXPECT_EQ(e.kind, ApiError::Kind::kHttp);
    EXPECT_EQ(e.status, c.status);
    EXPECT_EQ(e.reason, c.reason);
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("secret-token-value"), std::string::npos);
    EXPECT_EQ(e.verb, "get");
    EXPECT_EQ(e.resource, "pods");
    EXPECT_EQ(e.ns, "team-a");
    EXPECT_EQ(e.name, "web-0");
  }
}

// A server's Status message is network data: escaped as log lines are
// (log_safe, idempotent, so printing it again changes nothing) and cut.
TEST(ApiSession, ServerTextIsEscapedAndCut) {
  const std::string message =
      "no\\ncrio-credential-provider: error: forged\\u001b[2J" +
      std::string(5000, 'x');
  TestServer server(ServeWith(TestPki().server),
                    [&](const std::string&, int, int) {
                      return Respond(422, "Unprocessable Entity",
                                     StatusBody(422, "Invalid\\r", message));
                    });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));
  auto pod = api.get_pod("ns1", "p");
  ASSERT_FALSE(pod.ok());
  const ApiError& e = pod.error();
  EXPECT_EQ(e.reason, "Invalid\\r");
  EXPECT_TRUE(e.message.starts_with(
      "no\\ncrio-credential-provider: error: forged\\x1b[2Jxxx"))
      << e.message;
  EXPECT_TRUE(e.message.ends_with("x...")) << e.message;
  EXPECT_LT(e.message.size(), 530u);
  EXPECT_EQ(log_safe(e.message), e.message);
}

TEST(ApiSession, FailuresTable) {
  const Pki& pki = TestPki();
  struct Case {
    std::string name;
    bool refused;   // nothing listens
    bool hang;      // the server never answers
    bool wrong_ca;  // the client trusts another CA
    bool bad_url;
    int timeout_ms;
    ApiError::Kind kind;
    std::string message_part;
    int min_ms, max_ms;
    int server_connections;
  };
  const Case cases[] = {
      {"connection refused", true, false, false, false, 5000,
       ApiError::Kind::kTransport, "Connection refused (3 attempts)", 500, 1000,
       0},
      {"server never answers", false, true, false, false, 400,
       ApiError::Kind::kTimeout, "timed out waiting for the response", 400, 600,
       1},
      {"TLS failure not retried", false, false, true, false, 5000,
       ApiError::Kind::kTls, "certificate verify failed", 0, 300, 1},
      {"bad server URL", false, false, false, true, 5000,
       ApiError::Kind::kConfig, "only https:// is supported", 0, 100, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(pki.server), [&](const std::string&, int, int) {
      return c.hang ? Reply{"", false, true} : Ok200("", 0, 0);
    });
    ASSERT_TRUE(server.ok());
    ApiConfig config = ApiTo(server, c.timeout_ms);
    if (c.refused) {
      config.server = "https://127.0.0.1:" + std::to_string(ClosedPort());
    }
    if (c.wrong_ca) config.ca_pem = pki.other_ca.cert_pem;
    if (c.bad_url) config.server = "http://127.0.0.1:1";
    auto start = Clock::now();
    ApiSession api(config);
    auto secret = api.get_secret("ns1", "s");
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(secret.ok());
    const ApiError& e = secret.error();
    EXPECT_EQ(e.kind, c.kind) << e.message;
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("secret-token-value"), std::string::npos);
    EXPECT_EQ(e.verb, "get");
    EXPECT_EQ(e.resource, "secrets");
    EXPECT_EQ(e.ns, "ns1");
    EXPECT_EQ(e.name, "s");
    EXPECT_GE(elapsed, milliseconds(c.min_ms));
    EXPECT_LT(elapsed, milliseconds(c.max_ms));
    EXPECT_EQ(server.connections(), c.server_connections);
  }
}

TEST(ApiSession, BudgetIsSharedAcrossCalls) {
  std::atomic<int> n{0};
  TestServer server(ServeWith(TestPki().server),
                    [&](const std::string&, int, int) {
                      if (n++ == 0) {
                        std::this_thread::sleep_for(milliseconds(300));
                        return Respond(200, "OK", "{}");
                      }
                      return Reply{"", false, true};
                    });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server, 500));
  auto start = Clock::now();
  auto first = api.get_service_account_pull_secrets("ns1", "default");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = api.get_service_account_pull_secrets("ns1", "default");
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ApiError::Kind::kTimeout);
  EXPECT_GE(elapsed, milliseconds(480));
  EXPECT_LT(elapsed, milliseconds(700));
  // Once spent, later calls fail at once without a request.
  auto third = api.get_pod("ns1", "p");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().kind, ApiError::Kind::kTimeout);
  EXPECT_EQ(api.requests(), 2);
}

TEST(ApiSession, DecodeErrorsTable) {
  struct Case {
    std::string name;
    std::string body;
    std::string message_part;
  };
  const Case cases[] = {
      {"not JSON", "<html>", "not valid JSON"},
      {"not an object", "[1,2]", "not a JSON object"},
      {"pull secrets not a list",
       R"({"spec":{"imagePullSecrets":{"name":"a"}}})",
       "spec.imagePullSecrets is not a list"},
      {"nodeName not a string", R"({"spec":{"nodeName":7}})",
       "spec.nodeName is not a string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Respond(200, "OK", c.body);
                      });
    ASSERT_TRUE(server.ok());
    ApiSession api(ApiTo(server));
    auto pod = api.get_pod("ns1", "p");
    ASSERT_FALSE(pod.ok());
    EXPECT_EQ(pod.error().kind, ApiError::Kind::kDecode);
    EXPECT_NE(pod.error().message.find(c.message_part), std::string::npos)
        << pod.error().message;
    EXPECT_EQ(api.requests(), 1);
  }
}

// A call that got no HTTP answer: its kind as the advice reads it (doctor's
// checks map their calls' errors the same way).
TEST(ApiErrorKind, FromEachHttpErrorKind) {
  using H = HttpError::Kind;
  using A = ApiError::Kind;
  EXPECT_EQ(api_error_kind(H::kConfig), A::kConfig);
  EXPECT_EQ(api_error_kind(H::kTransport), A::kTransport);
  EXPECT_EQ(api_error_kind(H::kTls), A::kTls);
  EXPECT_EQ(api_error_kind(H::kTimeout), A::kTimeout);
  EXPECT_EQ(api_error_kind(H::kProtocol), A::kTransport);
}

}  // namespace
