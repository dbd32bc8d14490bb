// `kubelet-config`: the CredentialProviderConfig kubelet needs on this node.
// Its matchImages come from registries.conf, so kubelet runs the provider
// for exactly the source registries that have mirrors (naming the mirror
// instead is the classic mistake: kubelet matches the pod's image).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "registries.h"

// kubelet's patterns for one registries.conf prefix. kubelet's '*' is one
// host label, containers/image's "*.example.com" any number of them: a
// wildcard becomes one pattern per depth, up to kWildcardDepth labels.
inline constexpr int kWildcardDepth = 3;
std::vector<std::string> kubelet_patterns(std::string_view prefix);

// The registries.conf prefixes whose pulls need the provider: a mirror or a
// rewritten location that is within `mirror_scopes` (all when empty) and is
// not itself blocked. In prefix order.
std::vector<std::string> prefixes_needing_provider(
    const RegistriesConf& conf, const std::vector<std::string>& mirror_scopes);

std::string credential_provider_config_yaml(
    const std::vector<std::string>& match_images, std::string_view audience,
    const std::vector<std::string>& args);

// Prints the YAML; returns the exit code.
int run_kubelet_config(const KubeletConfigOptions& options);
