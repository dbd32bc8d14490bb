// Where the API server is, how to trust it, and who we are to it.
#pragma once

#include <string>

#include "api_errors.h"
#include "kubeapi.h"
#include "log.h"
#include "options.h"
#include "result.h"

struct ClusterAccess {
  ApiConfig api;
  // With --api-identity=node: the node's name from its client certificate
  // (CN system:node:<name>); empty otherwise.
  std::string node_name;
  // Where the CA that verifies the API server came from, for `doctor` and
  // the debug log: "--ca-file <path>", "kubeconfig <path>", "<path>
  // (kubeadm)", "system trust store", or "none (--insecure-skip-tls-verify)".
  std::string ca_source;
};

// Resolves the server (--api-server, then the kubeconfig in node mode, then
// <kube-config-dir>/apiserver-url.env, then https://localhost:6443), the CA
// (--ca-file, then the kubeconfig's, then <kube-config-dir>/pki/ca.crt, then
// the system trust store) and the identity (the pod's token, or the node's
// client certificate).
Result<ClusterAccess> cluster_access(const ClusterOptions& options,
                                     const std::string& pod_token,
                                     const Logger& log);

// Who asked which API server, for the advice on a failed call
// (api_errors.h); the pod is the caller's to add.
ApiErrorContext api_error_context(const ClusterAccess& access,
                                  const ClusterOptions& options);

// Parses KUBERNETES_SERVICE_HOST/PORT out of an apiserver-url.env text into
// "https://host:port"; empty when the host is missing.
std::string server_from_env_file(std::string_view text);
