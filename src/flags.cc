#include "flags.h"

#include <algorithm>
#include <utility>

#include "duration.h"
#include "usage.h"

namespace {

// The flags given, {name, value} in command-line order, each one the table
// gives to the command (booleans have the value "true" or "false").
using Given = std::vector<std::pair<std::string, std::string>>;

// A flag's value taken into an option: Result<bool> says whether the flag
// was one of this piece's (true), or not (false), or its value is invalid.
Result<bool> SetDuration(std::chrono::nanoseconds& out, const std::string& flag,
                         const std::string& value, bool allow_zero) {
  auto d = parse_go_duration(value);
  if (!d || d->count() < 0 || (!allow_zero && d->count() == 0))
    return Error{"--" + flag + " takes a " + (allow_zero ? "" : "positive ") +
                 "Go duration such as 30s or 5m, not \"" + value + "\""};
  out = *d;
  return true;
}

Result<bool> SetRegistries(RegistriesOptions& o, const std::string& name,
                           const std::string& value) {
  if (name == "registries-conf") {
    o.registries_conf = value;
  } else if (name == "registries-conf-dir") {
    o.registries_conf_dir = value;
  } else if (name == "mirror-registry") {
    std::string location = value;
    while (!location.empty() && location.back() == '/') location.pop_back();
    if (location.empty() || location.find("://") != std::string::npos)
      return Error{
          "--mirror-registry takes HOST[:PORT][/PATH] without a scheme, "
          "not \"" +
          value + "\""};
    o.mirror_registries.push_back(location);
  } else {
    return false;
  }
  return true;
}

Result<bool> SetCluster(ClusterOptions& o, const std::string& name,
                        const std::string& value) {
  if (name == "api-server") {
    o.api_server = value;
  } else if (name == "kube-config-dir") {
    o.kube_config_dir = value;
  } else if (name == "ca-file") {
    o.ca_file = value;
  } else if (name == "insecure-skip-tls-verify") {
    o.insecure_skip_tls_verify = value == "true";
  } else if (name == "kubeconfig") {
    o.kubeconfig = value;
  } else if (name == "api-identity") {
    if (value == "token")
      o.api_identity = ApiIdentity::kToken;
    else if (value == "node")
      o.api_identity = ApiIdentity::kNode;
    else
      return Error{"--api-identity takes token or node, not \"" + value + "\""};
  } else if (name == "timeout") {
    return SetDuration(o.timeout, name, value, false);
  } else {
    return false;
  }
  return true;
}

Result<bool> SetProvider(ProviderOptions& o, const std::string& name,
                         const std::string& value) {
  if (auto taken = SetRegistries(o.registries, name, value); !taken || *taken)
    return taken;
  if (auto taken = SetCluster(o.cluster, name, value); !taken || *taken)
    return taken;
  if (name == "secrets") {
    if (value == "pod")
      o.secrets = SecretsMode::kPod;
    else if (value == "namespace")
      o.secrets = SecretsMode::kNamespace;
    else
      return Error{"--secrets takes pod or namespace, not \"" + value + "\""};
  } else if (name == "global-auth-file") {
    o.global_auth_file = value;
  } else if (name == "cache-duration") {
    auto set = SetDuration(o.cache_duration, name, value, true);
    if (set && o.cache_duration.count() != 0)
      return Error{
          "--cache-duration must be 0s: kubelet would not run the provider "
          "again for that long, so those pulls would find no auth file "
          "(CRI-O uses each file for one pull only); remove the flag"};
    return set;
  } else if (name == "log-level") {
    if (!parse_log_level(value, o.log_level))
      return Error{"--log-level takes error, warn, info or debug, not \"" +
                   value + "\""};
  } else if (name == "runtime") {
    if (value == "crio" || value == "cri-o")
      o.runtime = Runtime::kCrio;
    else if (value == "containerd")
      o.runtime = Runtime::kContainerd;
    else
      return Error{"--runtime takes crio or containerd, not \"" + value + "\""};
  } else if (name == "auth-dir") {
    o.crio.auth_dir = value;
  } else if (name == "kubelet-root-dir") {
    o.crio.kubelet_root_dir = value;
  } else if (name == "stale-after") {
    return SetDuration(o.crio.stale_after, name, value, false);
  } else if (name == "ticket-dir") {
    o.ticket.ticket_dir = value;
  } else if (name == "ticket-ttl") {
    return SetDuration(o.ticket.ticket_ttl, name, value, false);
  } else {
    return false;
  }
  return true;
}

Result<bool> SetResolve(ResolveOptions& o, const std::string& name,
                        const std::string& value) {
  if (auto taken = SetRegistries(o.registries, name, value); !taken || *taken)
    return taken;
  if (name == "global-auth-file")
    o.global_auth_file = value;
  else if (name == "namespace")
    o.namespace_name = value;
  else if (name == "dockercfg")
    o.dockercfg_files.push_back(value);
  else if (name == "auth-file-out")
    o.auth_file_out = value;
  else if (name == "json")
    o.json = value == "true";
  else
    return false;
  return true;
}

Result<bool> SetMatch(MatchOptions& o, const std::string& name,
                      const std::string& value) {
  if (name == "dockercfg")
    o.dockercfg_files.push_back(value);
  else if (name == "json")
    o.json = value == "true";
  else
    return false;
  return true;
}

Result<bool> SetKubeletConfig(KubeletConfigOptions& o, const std::string& name,
                              const std::string& value) {
  if (name == "audience") {
    o.audience = value;
    return true;
  }
  auto taken = SetProvider(o.provider, name, value);
  if (taken && *taken) {
    bool boolean = std::any_of(
        flag_docs().begin(), flag_docs().end(),
        [&](const FlagDoc& f) { return f.name == name && f.value.empty(); });
    o.provider_args.push_back("--" + name +
                              (boolean && value == "true" ? "" : "=" + value));
  }
  return taken;
}

Result<bool> SetDoctor(DoctorOptions& o, const std::string& name,
                       const std::string& value) {
  if (name == "credential-provider-config")
    o.credential_provider_config = value;
  else if (name == "credential-provider-bin-dir")
    o.credential_provider_bin_dir = value;
  else if (name == "kubelet-bin")
    o.kubelet_bin = value, o.kubelet_bin_given = true;
  else if (name == "crio-bin")
    o.crio_bin = value;
  else if (name == "crio-config")
    o.crio_config = value;
  else if (name == "crio-config-dir")
    o.crio_config_dir = value;
  else if (name == "json")
    o.json = value == "true";
  else {
    o.timeout_given |= name == "timeout";
    o.kubelet_root_dir_given |= name == "kubelet-root-dir";
    return SetProvider(o.provider, name, value);
  }
  return true;
}

Result<bool> SetLogLevel(LogLevel& out, const std::string& value) {
  if (!parse_log_level(value, out))
    return Error{"--log-level takes error, warn, info or debug, not \"" +
                 value + "\""};
  return true;
}

Result<bool> SetGateway(GatewayOptions& o, const std::string& name,
                        const std::string& value) {
  if (name == "ticket-dir") {
    o.ticket_dir = value;
  } else if (name == "listen") {
    o.listen = value;
  } else if (name == "tls-cert") {
    o.tls_cert = value;
  } else if (name == "tls-key") {
    o.tls_key = value;
  } else if (name == "mirror-ca-file") {
    o.mirror_ca_file = value;
  } else if (name == "pull-idle") {
    return SetDuration(o.pull_idle, name, value, false);
  } else if (name == "pull-max") {
    return SetDuration(o.pull_max, name, value, false);
  } else if (name == "drain-timeout") {
    return SetDuration(o.drain_timeout, name, value, false);
  } else if (name == "io-timeout") {
    return SetDuration(o.io_timeout, name, value, false);
  } else if (name == "max-connections") {
    int n = 0;
    for (char c : value) {
      if (c < '0' || c > '9' || n > 100000) {
        n = 0;
        break;
      }
      n = n * 10 + (c - '0');
    }
    if (n <= 0)
      return Error{"--max-connections takes a positive number, not \"" + value +
                   "\""};
    o.max_connections = n;
  } else if (name == "log-level") {
    return SetLogLevel(o.log_level, value);
  } else {
    return false;
  }
  return true;
}

Result<bool> SetHostsToml(HostsTomlOptions& o, const std::string& name,
                          const std::string& value) {
  if (auto taken = SetRegistries(o.registries, name, value); !taken || *taken)
    return taken;
  if (name == "config-path")
    o.config_path = value;
  else if (name == "gateway")
    o.gateway_url = value;
  else if (name == "listen")
    o.listen = value;
  else if (name == "tls-cert")
    o.tls_cert = value;
  else if (name == "registry")
    o.extra_registries.push_back(value);
  else if (name == "log-level")
    return SetLogLevel(o.log_level, value);
  else
    return false;
  return true;
}

// The options struct of one command from its flags: `set` must take every
// flag the table gives the command, but for those parse_args handles.
template <typename T>
Result<T> Build(const Given& given, Result<bool> (*set)(T&, const std::string&,
                                                        const std::string&)) {
  T options;
  for (const auto& [name, value] : given) {
    if (name == "help" || name == "version" || name == "version-json") continue;
    auto taken = set(options, name, value);
    if (!taken) return taken.error();
    if (!*taken)
      return Error{"internal error: no option takes --" + name +
                   ", which the flag table gives this command"};
  }
  return options;
}

std::string CommandName(Command command) {
  std::string_view name = command_doc(command).name;
  return name.empty() ? "the provider mode" : std::string(name);
}

// The flags and arguments of `command`, checked against the flag table.
Result<Ok> Scan(Command command, const std::vector<std::string>& args,
                size_t first, Given& given,
                std::vector<std::string>& positional) {
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-h") {
      given.emplace_back("help", "true");
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto doc = std::find_if(flag_docs().begin(), flag_docs().end(),
                            [&](const FlagDoc& f) { return f.name == name; });
    if (doc == flag_docs().end())
      return Error{"unknown flag --" + name +
                   ": see --help for the flags this version takes"};
    if (!(doc->commands & command_bit(command))) {
      std::string help = command == Command::kProvider
                             ? "--help"
                             : CommandName(command) + " --help";
      return Error{"--" + name + " is not a flag of " + CommandName(command) +
                   ": see " + help};
    }
    if (doc->value.empty()) {
      if (has_value && value != "true" && value != "false")
        return Error{"--" + name + " takes no value (or =true/=false)"};
      given.emplace_back(name,
                         !has_value || value == "true" ? "true" : "false");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Error{"--" + name + " needs a value"};
      value = args[++i];
    }
    given.emplace_back(name, value);
  }
  return Ok{};
}

bool Flag(const Given& given, std::string_view name) {
  bool on = false;
  for (const auto& [n, v] : given)
    if (n == name) on = v == "true";
  return on;
}

}  // namespace

Result<ParsedArgs> parse_args(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  size_t first = 0;
  for (const CommandDoc& doc : command_docs())
    if (!doc.name.empty() && !args.empty() && args[0] == doc.name) {
      parsed.command = doc.command;
      first = 1;
    }
  Given given;
  std::vector<std::string> positional;
  if (auto scanned = Scan(parsed.command, args, first, given, positional);
      !scanned)
    return scanned.error();
  parsed.help = Flag(given, "help");
  parsed.version = Flag(given, "version");
  parsed.version_json = Flag(given, "version-json");

  bool takes_images =
      parsed.command == Command::kResolve || parsed.command == Command::kMatch;
  if (!takes_images && !positional.empty())
    return Error{"unexpected argument \"" + positional[0] +
                 "\": " + CommandName(parsed.command) +
                 " takes only flags (see --help)"};

  auto keep = [&](auto built) -> Result<ParsedArgs> {
    if (!built) return built.error();
    parsed.options = std::move(*built);
    return std::move(parsed);
  };
  switch (parsed.command) {
    case Command::kProvider:
      return keep(Build(given, SetProvider));
    case Command::kResolve: {
      auto resolve = Build(given, SetResolve);
      if (resolve) resolve->images = positional;
      return keep(std::move(resolve));
    }
    case Command::kMatch: {
      auto match = Build(given, SetMatch);
      if (match) match->images = positional;
      return keep(std::move(match));
    }
    case Command::kKubeletConfig:
      return keep(Build(given, SetKubeletConfig));
    case Command::kDoctor:
      return keep(Build(given, SetDoctor));
    case Command::kGateway:
      return keep(Build(given, SetGateway));
    case Command::kHostsToml:
      return keep(Build(given, SetHostsToml));
  }
  return Error{"internal error: unknown command"};
}

Result<ProviderOptions> parse_provider_args(
    const std::vector<std::string>& args) {
  Given given;
  std::vector<std::string> positional;
  if (auto scanned = Scan(Command::kProvider, args, 0, given, positional);
      !scanned)
    return scanned.error();
  if (!positional.empty())
    return Error{"unexpected argument \"" + positional[0] +
                 "\": the provider takes only flags"};
  return Build(given, SetProvider);
}
