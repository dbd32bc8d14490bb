#include "doctor_cluster.h"

#include <nlohmann/json.hpp>
#include <string>

#include "api_errors.h"
#include "json.h"

namespace {

// The API error of a check's call that got no HTTP answer, for the advice.
ApiError AsApiError(const HttpError& e, const std::string& verb,
                    const std::string& resource) {
  return ApiError{
      api_error_kind(e.kind), 0, "", e.message, verb, resource, "", ""};
}

}  // namespace

CheckResult check_api_server(const ClusterAccess& access,
                             const ClusterOptions& o,
                             std::unique_ptr<HttpClient>& client) {
  const ApiConfig& api = access.api;
  HttpClientConfig config = http_client_config(api);
  config.max_body_bytes = 1 << 20;
  auto created = HttpClient::create(config);
  if (!created)
    return failed("api-server", api.server + ": " + created.error().message,
                  "fix --api-server/--ca-file in the provider's args");
  client = std::move(*created);
  auto response = client->get("/version", HttpClient::Clock::now() + o.timeout);
  std::string where = api.server + " (CA: " + access.ca_source + ")";
  if (!response)
    return failed(
        "api-server", where + ": GET /version failed",
        describe_api_error(AsApiError(response.error(), "get", "version"),
                           api_error_context(access, o))
            .message);
  if (response->status != 200)
    return failed("api-server",
                  where + ": GET /version answered HTTP " +
                      std::to_string(response->status),
                  "point --api-server at the Kubernetes API server");
  std::string version;
  auto body = parse_json(response->body);
  if (body && body->is_object() && body->contains("gitVersion") &&
      (*body)["gitVersion"].is_string()) {
    // Appended rather than `" " + string&&`, which GCC 12 at -O3 flags
    // falsely (-Wrestrict), breaking the -Werror Release build.
    version = " ";
    version += (*body)["gitVersion"].get_ref<const std::string&>();
  }
  if (api.insecure_skip_tls_verify)
    return warned("api-server",
                  where + ": reachable" + version + " but not verified",
                  "drop --insecure-skip-tls-verify and pass --ca-file: without "
                  "verification anyone on the path reads the pull secrets");
  return passed("api-server",
                where + ": reachable" + version + ", certificate verified");
}

// Who the API server takes kubelet's kubeconfig for, from a SelfSubjectReview
// (authentication.k8s.io/v1, which every authenticated user may create): the
// Node authorizer lets the provider read a pod's secrets only as
// system:node:<name> in the group system:nodes.
CheckResult check_node_identity(const ClusterAccess& access,
                                const ClusterOptions& o, HttpClient& client) {
  auto response = client.post(
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})",
      HttpClient::Clock::now() + o.timeout);
  std::string want = "system:node:" + access.node_name;
  if (!response)
    return failed("node-identity", want + ": SelfSubjectReview failed",
                  describe_api_error(AsApiError(response.error(), "create",
                                                "selfsubjectreviews"),
                                     api_error_context(access, o))
                      .message);
  if (response->status == 401) {
    ApiError e{ApiError::Kind::kHttp,
               401,
               "Unauthorized",
               "",
               "create",
               "selfsubjectreviews",
               "",
               ""};
    return failed("node-identity",
                  want + ": the API server refused the client certificate",
                  describe_api_error(e, api_error_context(access, o)).message);
  }
  if (response->status != 201 && response->status != 200)
    return failed("node-identity",
                  want + ": SelfSubjectReview answered HTTP " +
                      std::to_string(response->status),
                  "use an API server >= 1.28 (authentication.k8s.io/v1 "
                  "SelfSubjectReview), or check the node with kubectl auth "
                  "whoami --kubeconfig=<kubelet's kubeconfig>");
  auto review = parse_json(response->body);
  const nlohmann::json* user = nullptr;
  if (review && review->is_object()) {
    auto status = review->find("status");
    if (status != review->end() && status->is_object()) {
      auto info = status->find("userInfo");
      if (info != status->end() && info->is_object()) user = &*info;
    }
  }
  auto username =
      user ? user->find("username") : nlohmann::json::const_iterator{};
  if (user == nullptr || username == user->end() || !username->is_string())
    return failed("node-identity",
                  want + ": the SelfSubjectReview answer names no user",
                  "point --api-server at the Kubernetes API server");
  std::string name = username->get<std::string>();
  bool in_nodes = false;
  if (auto groups = user->find("groups");
      groups != user->end() && groups->is_array()) {
    for (const auto& g : *groups)
      in_nodes = in_nodes || (g.is_string() && g == "system:nodes");
  }
  if (name != want || !in_nodes)
    return failed("node-identity",
                  "kubelet's kubeconfig authenticates as \"" + name + "\"" +
                      (name != want ? ", not as " + want
                                    : " but not in the group system:nodes"),
                  "give --kubeconfig kubelet's own kubeconfig (its client "
                  "certificate names system:node:<node> in the group "
                  "system:nodes), or use the token mode "
                  "(--api-identity=token)");
  return passed("node-identity",
                want +
                    " in system:nodes (kubelet's kubeconfig, by "
                    "SelfSubjectReview): the Node authorizer applies");
}
