// The kubelet's kubeconfig: where the API server is, the CA to verify it,
// and the node's client certificate (--api-identity=node).
#pragma once

#include <string>

#include "result.h"

struct KubeConfig {
  std::string server;  // clusters[].cluster.server
  // PEM; empty when the kubeconfig names no CA (system trust store).
  std::string ca_pem;
  // PEM: the client certificate (leaf first, then any chain) and its key.
  // The key is a credential: never log it.
  std::string client_cert_pem;
  std::string client_key_pem;
  bool insecure_skip_tls_verify = false;
};

// Follows current-context to its cluster and user. certificate-authority,
// client-certificate and client-key may be files (relative to the
// kubeconfig's directory) or inline *-data (base64); inline data wins when
// both are set, as in client-go. Both files may be the kubelet's rotated
// kubelet-client-current.pem (certificate and key in one file). Checks that
// the certificate is within its validity period and matches the key.
// Errors are one line: "kubeconfig <path>: <what>: <fix>".
Result<KubeConfig> load_kubeconfig(const std::string& path);
