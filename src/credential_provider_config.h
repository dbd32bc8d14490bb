// kubelet's CredentialProviderConfig (kubelet.config.k8s.io/v1), read back
// for `doctor`: the entry of our provider, as kubelet would see it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

inline constexpr std::string_view kProviderName = "crio-credential-provider";
inline constexpr std::string_view kProviderApiVersion =
    "credentialprovider.kubelet.k8s.io/v1";

struct ProviderEntry {
  std::string name;
  std::string api_version;
  std::vector<std::string> match_images;
  std::optional<std::string> default_cache_duration;  // absent: nullopt
  bool has_token_attributes = false;
  std::string audience;                         // serviceAccountTokenAudience
  std::string cache_type;                       // "" when absent
  std::optional<bool> require_service_account;  // absent: nullopt
  std::vector<std::string> args;
};

struct CredentialProviderConfig {
  std::string path;
  std::vector<ProviderEntry> providers;
  // Our entry, or nullptr.
  const ProviderEntry* ours() const;
};

// YAML or JSON text; `path` names it in errors.
Result<CredentialProviderConfig> parse_credential_provider_config(
    std::string_view text, const std::string& path);

// A file, or (as kubelet >= 1.36 reads it) a directory of *.json, *.yaml
// and *.yml files merged in name order.
Result<CredentialProviderConfig> load_credential_provider_config(
    const std::string& path);
