// The Kubernetes API's JSON objects the provider reads (Pod, ServiceAccount,
// Secret, SecretList, Status), decoded into plain structs. Every body is
// network data: decoding is bounded (json.h), and no error quotes a value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

struct Pod {
  std::string uid;
  std::string node_name;
  std::string service_account;                  // spec.serviceAccountName
  std::vector<std::string> image_pull_secrets;  // spec.imagePullSecrets[].name
};

struct PullSecret {
  std::string name;
  std::string
      type;  // kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg
  // The decoded bytes of data[".dockerconfigjson"] or data[".dockercfg"]
  // (empty when the key is missing). Holds credentials: never log it.
  std::string config;
};

// One page of a LIST of secrets.
struct SecretListPage {
  std::vector<PullSecret> items;
  // metadata.continue: where the next page starts; empty on the last page.
  std::string continue_token;
};

// What a metav1.Status says; both empty when the body is not one (a proxy's
// HTML page, say).
struct ApiStatus {
  std::string reason;
  std::string message;
};

// Each error is one line naming the field that is wrong, never its value.
Result<Pod> decode_pod(std::string_view body);
// The service account's imagePullSecrets[].name.
Result<std::vector<std::string>> decode_service_account_pull_secrets(
    std::string_view body);
// A Secret; only the pull-secret key of its data is decoded. Data that is
// not base64 (or a missing key) leaves `config` empty: the caller skips
// that one secret with a warning instead of failing the whole call.
Result<PullSecret> decode_secret(std::string_view body);
// A SecretList page; items as decode_secret decodes them. A continue token
// longer than kMaxContinueToken or holding a byte outside printable ASCII
// is an error: it goes back into the next request.
Result<SecretListPage> decode_secret_list(std::string_view body);
ApiStatus decode_status(std::string_view body);

// kube-apiserver's tokens are base64 of a small JSON object (a resource
// version and a key): a few hundred bytes.
constexpr std::size_t kMaxContinueToken = 4096;
