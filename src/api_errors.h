// What an operator reads when a Kubernetes API call fails: one line naming
// what failed and the fix. Shared by the provider and the subcommands that
// check a node's setup, so the advice is written once.
#pragma once

#include <chrono>
#include <string>

#include "kubeapi.h"
#include "result.h"

// Who asked what of which API server, for the advice.
struct ApiErrorContext {
  std::string server;                    // the API server's URL
  std::chrono::milliseconds timeout{0};  // the budget of all calls
  std::string kube_config_dir;           // where apiserver-url.env lives
  bool node_identity = false;            // --api-identity=node
  std::string node_name;                 // with node_identity
  // The pod the credentials are for (its service account may be empty:
  // "default").
  std::string pod_namespace;
  std::string service_account;
};

Error describe_api_error(const ApiError& error, const ApiErrorContext& context);
