// kubelet's exec-plugin protocol (credentialprovider.kubelet.k8s.io): one
// CredentialProviderRequest on stdin, one CredentialProviderResponse on stdout.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "result.h"

// kubelet's requests are a few KiB; refuse anything far larger.
constexpr size_t kMaxRequestBytes = 1 << 20;

struct CredentialProviderRequest {
  std::string api_version;  // one of the three versions of the group
  std::string image;        // the normalized repository name kubelet pulls
  std::string service_account_token;  // empty when kubelet sent none
};

Result<CredentialProviderRequest> parse_request(std::string_view json);

// A response kubelet's strict decoder accepts: same apiVersion, cacheKeyType
// Image (the auth file is per image), the given cacheDuration and no
// credentials in `auth` (they travel in the auth file instead).
std::string make_response(std::string_view api_version,
                          std::chrono::nanoseconds cache_duration);
