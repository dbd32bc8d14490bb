// containerd's hosts.toml (config_path) that sends every pull of a registry
// through the mirror gateway and nowhere else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "registries.h"

// `server` is the gateway, and the empty `[host]` table keeps containerd
// from appending the registry itself as a fallback (measured with 1.6.20:
// a server-only file is rejected and containerd then pulls from the
// registry directly). `ca_file` (the gateway's certificate) is the only
// certificate containerd then trusts for the gateway.
std::string hosts_toml(std::string_view gateway_url, std::string_view ca_file);

// The registry hosts whose pulls must go through the gateway: the domain of
// every registries.conf entry with mirrors or a rewritten location, plus
// `extra`; wildcard prefixes are skipped (hosts.toml has no wildcards).
std::vector<std::string> gateway_registries(
    const RegistriesConf& conf, const std::vector<std::string>& extra);

// The hosts-toml subcommand: writes <config-path>/<registry>/hosts.toml.
int run_hosts_toml(const HostsTomlOptions& options);
