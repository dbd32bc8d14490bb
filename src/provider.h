// The provider's pipeline: image -> pull sources that need credentials ->
// the pod's pull secrets -> one credential per source -> the auth file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authfile.h"
#include "dockercfg.h"
#include "flags.h"
#include "keyring.h"
#include "log.h"
#include "registries.h"
#include "result.h"

// The pull sources of repository `name` that need credentials (every mirror
// and a rewritten location), restricted to `mirror_scopes` when non-empty.
// Empty when no registries.conf entry matches or it is blocked.
std::vector<PullSource> sources_needing_credentials(
    const RegistriesConf& conf, const Reference& name,
    const std::vector<std::string>& mirror_scopes);

struct SourceCredential {
  PullSource source;
  // The first credential kubelet's keyring gives for the source's
  // repository, skipping its index.docker.io fallback (that would hand
  // Docker Hub credentials to a mirror) and user names with a ':' (an auth
  // file cannot carry them). Empty when none matches.
  std::optional<KeyringMatch> match;
};

std::vector<SourceCredential> choose_credentials(
    const std::vector<PullSource>& sources, const Keyring& keyring);

// Auth-file entries keyed by each source's full repository name, the most
// specific key containers/image tries for that pull and for no other.
std::vector<AuthEntry> auth_entries(
    const std::vector<SourceCredential>& choices);

// The whole provider mode: a CredentialProviderRequest in, a response out.
// Every failure is an Error with the one line to print.
Result<std::string> run_provider(const Options& options,
                                 std::string_view request, const Logger& log);
