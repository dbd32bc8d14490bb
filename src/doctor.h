// `doctor`: checks one node's setup end to end and names the fix for each
// problem. It reuses the provider's own pieces (flags, registries.conf,
// cluster access, the kubelet matcher), so it checks what the provider
// will actually do.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "credential_provider_config.h"
#include "doctor_check.h"
#include "options.h"
#include "registries.h"

// The checks that need only the CredentialProviderConfig entry and
// registries.conf (unit-testable): apiVersion, tokenAttributes, cacheType,
// defaultCacheDuration and --cache-duration, matchImages coverage.
std::vector<CheckResult> check_provider_entry(const ProviderEntry& entry,
                                              const ProviderOptions& provider,
                                              const RegistriesConf* conf);

// kubelet's matchImages test: whether `pattern` covers the images of the
// registries.conf `prefix` (for a wildcard prefix, its one-label names).
bool pattern_covers_prefix(const std::string& pattern,
                           const std::string& prefix);

// The feature gate KubeletServiceAccountTokenForCredentialProviders:
// `version` is kubelet's, `gate` its explicit setting if any.
CheckResult check_feature_gate(const std::array<int, 3>* version,
                               std::optional<bool> gate);

// Runs every check and prints them (text or --json); returns the exit code:
// 1 when any check FAILed.
int run_doctor(const DoctorOptions& options);
