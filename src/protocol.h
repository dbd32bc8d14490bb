// kubelet's exec-plugin protocol (credentialprovider.kubelet.k8s.io): one
// CredentialProviderRequest on stdin, one CredentialProviderResponse on stdout.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

// kubelet's requests are a few KiB; refuse anything far larger.
constexpr size_t kMaxRequestBytes = 1 << 20;

struct CredentialProviderRequest {
  std::string api_version;  // one of the three versions of the group
  std::string image;        // the normalized repository name kubelet pulls
  std::string service_account_token;  // empty when kubelet sent none
};

Result<CredentialProviderRequest> parse_request(std::string_view json);

struct ResponseAuth {
  std::string key;  // a kubelet match key, e.g. the image name
  std::string username;
  std::string password;
};

// A response kubelet's strict decoder accepts: same apiVersion, cacheKeyType
// Image (the auth file is per image), the given cacheDuration and `auth`.
std::string make_response(std::string_view api_version,
                          std::chrono::nanoseconds cache_duration,
                          const std::vector<ResponseAuth>& auth = {});

// The `auth` of a call that wrote an auth file for `image` (the request's
// image): one entry keyed by it with an empty username and password. The
// mirror credentials stay in the auth file; this entry only makes kubelet
// tie the pull, and its pull record (KEP-4412), to the pod's service
// account instead of recording the image as pulled without credentials and
// so usable by every pod of the node. CRI-O ignores a request credential
// whose username is empty, so the pull still goes through the auth file.
std::vector<ResponseAuth> pod_bound_auth(std::string_view image);
