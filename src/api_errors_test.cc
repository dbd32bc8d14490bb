#include "api_errors.h"

#include "gtest/gtest.h"

namespace {

ApiErrorContext Context(bool node) {
  ApiErrorContext c;
  c.server = "https://api.example:6443";
  c.timeout = std::chrono::milliseconds(10000);
  c.kube_config_dir = "/etc/kubernetes";
  c.node_identity = node;
  c.node_name = node ? "node1" : "";
  c.pod_namespace = "team-a";
  return c;
}

ApiError Http(int status, std::string resource, std::string name) {
  ApiError e{ApiError::Kind::kHttp,
             status,
             "",
             "",
             "get",
             std::move(resource),
             "team-a",
             std::move(name)};
  return e;
}

ApiError Failed(ApiError::Kind kind, std::string message) {
  ApiError e{kind, 0, "", std::move(message), "get", "pods", "team-a", "p1"};
  return e;
}

TEST(DescribeApiError, Table) {
  struct Case {
    std::string name;
    ApiError error;
    bool node;
    std::string part;
  };
  const Case cases[] = {
      {"token forbidden names the Role rule", Http(403, "secrets", "s1"), false,
       "forbidden: system:serviceaccount:team-a:default may not get secrets "
       "\"s1\" in namespace team-a: add the Role rule"},
      {"node forbidden on a pod", Http(403, "pods", "p1"), true,
       "pod team-a/p1 is not bound to this node (node1)"},
      {"token rejected names the audience", Http(401, "pods", "p1"), false,
       "serviceAccountTokenAudience"},
      {"transport names apiserver-url.env",
       Failed(ApiError::Kind::kTransport, "connection refused"), false,
       "/etc/kubernetes/apiserver-url.env"},
      {"a redirect is never followed", Http(308, "pods", "p1"), false,
       "308 (a 3xx: redirects are never followed) to get pods \"p1\""},
      {"timeout names the budget",
       Failed(ApiError::Kind::kTimeout, "timed out"), false,
       "did not answer within 10.0s"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Error e = describe_api_error(c.error, Context(c.node));
    EXPECT_NE(e.message.find(c.part), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find('\n'), std::string::npos);
  }
}

}  // namespace
