// doctor's checks of the API server, made as the provider would make its
// calls: reachable and verified with the CA the provider would use, and in
// node mode who kubelet's kubeconfig is (a SelfSubjectReview).
#pragma once

#include <memory>

#include "cluster.h"
#include "doctor_check.h"
#include "http.h"

// GET /version with the provider's server, CA and identity; on success
// `client` holds the connection for the next check.
CheckResult check_api_server(const ClusterAccess& access,
                             const ClusterOptions& options,
                             std::unique_ptr<HttpClient>& client);

// --api-identity=node: the API server takes the kubeconfig for
// system:node:<name> in system:nodes, so the Node authorizer applies.
CheckResult check_node_identity(const ClusterAccess& access,
                                const ClusterOptions& options,
                                HttpClient& client);
