#include "api_errors.h"

namespace {

std::string Seconds(std::chrono::milliseconds d) {
  return std::to_string(d.count() / 1000.0).substr(0, 4) + "s";
}

}  // namespace

Error describe_api_error(const ApiError& e, const ApiErrorContext& c) {
  const std::string& server = c.server;
  std::string object = e.resource +
                       (e.name.empty() ? "" : " \"" + e.name + "\"") +
                       " in namespace " + e.ns;
  bool node = c.node_identity;
  switch (e.kind) {
    case ApiError::Kind::kConfig:
      return Error{"cannot set up the API client: " + e.message +
                   ": check --api-server, --ca-file and --kubeconfig"};
    case ApiError::Kind::kTransport:
      return Error{"cannot reach the API server at " + server + ": " +
                   e.message + ": check --api-server (or " + c.kube_config_dir +
                   "/apiserver-url.env) and that the API server is up"};
    case ApiError::Kind::kTls:
      return Error{"TLS with the API server at " + server +
                   " failed: " + e.message +
                   ": pass the cluster CA with --ca-file (kubeadm: "
                   "/etc/kubernetes/pki/ca.crt)"};
    case ApiError::Kind::kTimeout:
      return Error{"the API server at " + server + " did not answer within " +
                   Seconds(c.timeout) + " (" + e.message +
                   "): check that it is up and reachable, or raise --timeout"};
    case ApiError::Kind::kDecode:
      return Error{"unexpected answer from the API server to " + e.verb + " " +
                   object + ": " + e.message};
    case ApiError::Kind::kHttp:
      break;
  }
  if (e.status == 401)
    return node ? Error{"the API server rejected the node's client certificate "
                        "(401 Unauthorized): check --kubeconfig and that the "
                        "kubelet client certificate is current"}
                : Error{"the API server rejected the pod's service-account "
                        "token (401 Unauthorized): set "
                        "tokenAttributes.serviceAccountTokenAudience in the "
                        "CredentialProviderConfig to an audience the API "
                        "server accepts (its --api-audiences)"};
  if (e.status == 403) {
    if (node && e.resource == "pods")
      return Error{"forbidden: pod " + e.ns + "/" + e.name +
                   " is not bound to this node (" + c.node_name +
                   "): a node reads only its own pods and their pull secrets; "
                   "check that --kubeconfig is this node's"};
    if (node)
      return Error{"forbidden: node " + c.node_name + " may not " + e.verb +
                   " " + object +
                   ": the Node authorizer allows only what pods bound to this "
                   "node reference (spec.imagePullSecrets)"};
    std::string who =
        "system:serviceaccount:" + c.pod_namespace + ":" +
        (c.service_account.empty() ? "default" : c.service_account);
    return Error{"forbidden: " + who + " may not " + e.verb + " " + object +
                 ": add the Role rule {apiGroups: [\"\"], resources: [\"" +
                 e.resource + "\"], verbs: [\"" + e.verb +
                 "\"]} in namespace " + e.ns +
                 " bound to that service account (README, RBAC)"};
  }
  if (e.status == 429)
    return Error{
        "the API server kept throttling (429 Too Many Requests) to " + e.verb +
        " " + object +
        ": retry later or review its API priority and fairness limits"};
  if (e.status == 404)
    return Error{e.resource + " \"" + e.name + "\" not found in namespace " +
                 e.ns + ": the pod may have been deleted; kubelet retries"};
  if (e.status >= 300 && e.status < 400)
    return Error{"the API server answered " + std::to_string(e.status) +
                 " (a 3xx: redirects are never followed) to " + e.verb + " " +
                 object +
                 ": point --api-server (or the kubeconfig's server) at the API "
                 "server itself, not at a proxy that redirects"};
  return Error{"the API server answered " + std::to_string(e.status) + " " +
               e.reason + " to " + e.verb + " " + object + ": " + e.message +
               ": check the API server's health"};
}
