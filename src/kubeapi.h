// A minimal Kubernetes API client: the four reads a credential provider
// needs, over one verified, kept-alive HTTPS connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "api_objects.h"
#include "http_error.h"
#include "result.h"

struct HttpClientConfig;  // http.h

struct ApiConfig {
  std::string server;   // "https://host:port" or "https://[v6]:port"
  std::string ca_file;  // empty (and no ca_pem): the system trust store
  std::string ca_pem;   // inline CA bundle (PEM), e.g. from a kubeconfig
  bool insecure_skip_tls_verify = false;
  // Exactly one identity: a bearer token (the pod's service-account token),
  // or a client certificate and key in PEM (the node's kubeconfig).
  std::string bearer_token;
  std::string client_cert_pem;
  std::string client_key_pem;
  // Budget for all calls of one invocation together, retries included.
  std::chrono::milliseconds timeout{10000};
};

// The HTTPS client settings for `config`: server, trust, identity.
HttpClientConfig http_client_config(const ApiConfig& config);

struct ApiError {
  enum class Kind {
    kConfig,     // bad server URL, unreadable CA or client certificate
    kTransport,  // connect/read failed after retries (includes DNS)
    kTls,        // handshake or certificate verification failed
    kTimeout,    // the budget ran out
    kHttp,       // the server answered with a non-2xx status
    kDecode,     // the body was not the JSON we expect
  };
  Kind kind;
  int status = 0;      // HTTP status for kHttp
  std::string reason;  // Status.reason (e.g. "Forbidden") when present
  // What went wrong, one line, from Status.message or the transport; never
  // contains the token or any secret data.
  std::string message;
  // The request, for error messages: "get"/"list", "pods", namespace, name.
  std::string verb, resource, ns, name;
};

template <class T>
using ApiResult = Result<T, ApiError>;

// The kind of ApiError for a call the HTTPS client failed before any HTTP
// answer: a malformed answer (kProtocol) counts as not reaching the API
// server (kTransport).
ApiError::Kind api_error_kind(HttpError::Kind kind);

// --secrets=namespace reads the pull secrets in pages of this many items
// (client-go's pager and kubectl ask for 500), so no answer has to be one
// huge body however large the namespace is.
constexpr std::size_t kListPageSize = 500;
// Bounds on both LISTs of one call together. Every pull secret is held
// until matching: 100,000 of them cost about 20 MiB. A page may hold fewer
// items than asked for (kube-apiserver pages before it filters by type),
// hence the room in the page count; the deadline bounds the time as well.
constexpr std::size_t kMaxListItems = 100000;
constexpr int kMaxListPages = 1000;

struct PodAndServiceAccount {
  ApiResult<Pod> pod;
  // The service account's imagePullSecrets[].name.
  ApiResult<std::vector<std::string>> service_account_pull_secrets;
};

// Holds one connection; reuses it across calls (keep-alive). Reads that do
// not depend on each other go out together, pipelined on that connection.
// Not thread-safe.
class ApiSession {
 public:
  explicit ApiSession(ApiConfig config);
  ~ApiSession();
  ApiSession(const ApiSession&) = delete;
  ApiSession& operator=(const ApiSession&) = delete;

  // GET /api/v1/namespaces/{ns}/pods/{name}
  ApiResult<Pod> get_pod(const std::string& ns, const std::string& name);
  // GET .../serviceaccounts/{name}: its imagePullSecrets[].name
  ApiResult<std::vector<std::string>> get_service_account_pull_secrets(
      const std::string& ns, const std::string& name);
  // Both GETs above in one round trip: the service account's name is in
  // kubelet's token, so it need not wait for the pod.
  PodAndServiceAccount get_pod_and_service_account(
      const std::string& ns, const std::string& pod,
      const std::string& service_account);
  // GET .../secrets/{name}; 404 gives std::nullopt.
  ApiResult<std::optional<PullSecret>> get_secret(const std::string& ns,
                                                  const std::string& name);
  // get_secret for each name, in one round trip; one result per name.
  std::vector<ApiResult<std::optional<PullSecret>>> get_secrets(
      const std::string& ns, const std::vector<std::string>& names);
  // GET .../secrets?fieldSelector=type=<type>&limit=... for both
  // pull-secret types, page after page (`continue`); the pages of both go
  // out together, pipelined. Bounded by kMaxListItems and kMaxListPages.
  ApiResult<std::vector<PullSecret>> list_pull_secrets(const std::string& ns);

  // Requests sent so far (for logs and the benchmark).
  int requests() const;

 private:
  struct Impl;
  Impl* impl_;
};
