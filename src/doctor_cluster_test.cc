// doctor's node-identity check against a loopback API server that answers
// the SelfSubjectReview as kube-apiserver would for each kind of kubeconfig
// (the real one: test/e2e TestDoctor).
#include "doctor_cluster.h"

#include "tls_test_server.h"

namespace {

using namespace tls_test_server;

std::string Review(const std::string& user, const std::string& groups) {
  return R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1",)"
         R"("status":{"userInfo":{"username":")" +
         user + R"(","groups":[)" + groups + "]}}}";
}

TEST(CheckNodeIdentity, SelfSubjectReviewTable) {
  struct Case {
    std::string name;
    int status;
    std::string body;
    CheckStatus want;
    std::string in_message;
  };
  const std::string nodes = R"("system:nodes","system:authenticated")";
  const Case cases[] = {
      {"the node", 201, Review("system:node:node-a", nodes), CheckStatus::kOk,
       "SelfSubjectReview"},
      {"another node", 201, Review("system:node:node-b", nodes),
       CheckStatus::kFail, "not as system:node:node-a"},
      {"not in system:nodes", 201,
       Review("system:node:node-a", R"("system:authenticated")"),
       CheckStatus::kFail, "not in the group system:nodes"},
      {"an admin", 201, Review("kubernetes-admin", R"("system:masters")"),
       CheckStatus::kFail, "\"kubernetes-admin\""},
      {"no user", 201, "{}", CheckStatus::kFail, "names no user"},
      {"refused", 401, "{}", CheckStatus::kFail, "refused"},
      {"no such API", 404, "{}", CheckStatus::kFail, "HTTP 404"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Respond(c.status, "X", c.body);
                      });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    ClusterAccess access;
    access.api.server = server.url();
    access.node_name = "node-a";
    ClusterOptions options;
    options.api_identity = ApiIdentity::kNode;
    CheckResult r = check_node_identity(access, options, *client);
    EXPECT_EQ(r.name, "node-identity");
    EXPECT_EQ(r.status, c.want) << r.message;
    EXPECT_NE(r.message.find(c.in_message), std::string::npos) << r.message;
    EXPECT_EQ(r.fix.empty(), c.want == CheckStatus::kOk) << r.fix;
    ASSERT_EQ(server.heads().size(), 1u);
    EXPECT_EQ(server.heads()[0].substr(0, server.heads()[0].find("\r\n")),
              "POST /apis/authentication.k8s.io/v1/selfsubjectreviews "
              "HTTP/1.1");
  }
}

}  // namespace
