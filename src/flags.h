// Command-line flags, parsed into the options struct of the command given
// (options.h). Which flags exist, which commands take them and which are
// booleans is the one table in usage.cc; this file turns values into
// options. Every flag takes "--flag=value" or "--flag value".
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "options.h"
#include "result.h"

enum class Command {
  kProvider,
  kResolve,
  kMatch,
  kKubeletConfig,
  kDoctor,
  kGateway,
  kHostsToml
};

struct ParsedArgs {
  Command command = Command::kProvider;
  bool help = false;
  bool version = false;
  bool version_json = false;
  // The struct of `command`, in the order of Command.
  std::variant<ProviderOptions, ResolveOptions, MatchOptions,
               KubeletConfigOptions, DoctorOptions, GatewayOptions,
               HostsTomlOptions>
      options;
};

// A usage error names the flag and what it takes, or the command that does
// not take it.
Result<ParsedArgs> parse_args(const std::vector<std::string>& args);

// The provider's flags alone (as in kubelet's `args` for the provider).
Result<ProviderOptions> parse_provider_args(
    const std::vector<std::string>& args);
