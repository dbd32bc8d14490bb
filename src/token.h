// The pod identity inside kubelet's service-account token. kubelet obtained
// the token from the API server for this pod, so we read its claims without
// checking the signature; the API server checks it on every call we make.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

struct PodIdentity {
  std::string ns;
  std::string pod_name;
  std::string pod_uid;
  std::string service_account;
  std::string node_name;
};

// Errors never quote the token.
Result<PodIdentity> identity_from_token(std::string_view jwt);

// RFC 1123 label: what a namespace must be before it goes into a file name.
bool is_dns1123_label(std::string_view s);
// RFC 1123 subdomain: pod, service-account and secret names.
bool is_dns1123_subdomain(std::string_view s);
