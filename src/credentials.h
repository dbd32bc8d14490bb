// The middle of the pipeline, shared by the provider and `resolve`: which
// pull sources of an image need credentials, which credential each gets
// from the keyring, and the auth-file entries that carry them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "authfile.h"
#include "keyring.h"
#include "reference.h"
#include "registries.h"
#include "ticket.h"

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

// Every place a pull of repository `name` may be served from, in
// registries.conf order (mirrors, then the registry's own location), each
// with the credential `choose_credentials` gives it: mirrors and rewrites
// within `mirror_scopes` get the pod's mirror credentials, the registry's own
// location only the pod's credential for that registry's own name. Blocked
// sources are left out. This is what a containerd ticket carries to the
// mirror gateway.
std::vector<TicketSource> ticket_sources(
    const RegistriesConf& conf, const Reference& name,
    const std::vector<std::string>& mirror_scopes, const Keyring& keyring);
