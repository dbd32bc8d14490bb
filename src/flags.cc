#include "flags.h"

#include <functional>
#include <map>

#include "duration.h"

namespace {

using Setter = std::function<Result<Ok>(Options&, const std::string&)>;

Result<Ok> SetDuration(std::chrono::nanoseconds& out, const std::string& flag,
                       const std::string& value, bool allow_zero) {
  auto d = parse_go_duration(value);
  if (!d || d->count() < 0 || (!allow_zero && d->count() == 0))
    return Error{"--" + flag + " takes a " + (allow_zero ? "" : "positive ") +
                 "Go duration such as 30s or 5m, not \"" + value + "\""};
  out = *d;
  return Ok{};
}

Setter Path(std::string Options::*field) {
  return [field](Options& o, const std::string& v) -> Result<Ok> {
    o.*field = v;
    return Ok{};
  };
}

const std::map<std::string, Setter>& ValueFlags() {
  static const std::map<std::string, Setter> flags = {
      {"registries-conf", Path(&Options::registries_conf)},
      {"registries-conf-dir", Path(&Options::registries_conf_dir)},
      {"auth-dir", Path(&Options::auth_dir)},
      {"kubelet-root-dir", Path(&Options::kubelet_root_dir)},
      {"global-auth-file", Path(&Options::global_auth_file)},
      {"api-server", Path(&Options::api_server)},
      {"kube-config-dir", Path(&Options::kube_config_dir)},
      {"ca-file", Path(&Options::ca_file)},
      {"kubeconfig", Path(&Options::kubeconfig)},
      {"namespace", Path(&Options::namespace_name)},
      {"auth-file-out", Path(&Options::auth_file_out)},
      {"audience", Path(&Options::audience)},
      {"credential-provider-config",
       Path(&Options::credential_provider_config)},
      {"credential-provider-bin-dir",
       Path(&Options::credential_provider_bin_dir)},
      {"kubelet-bin", Path(&Options::kubelet_bin)},
      {"crio-bin", Path(&Options::crio_bin)},
      {"crio-config", Path(&Options::crio_config)},
      {"crio-config-dir", Path(&Options::crio_config_dir)},
      {"dockercfg",
       [](Options& o, const std::string& v) -> Result<Ok> {
         o.dockercfg_files.push_back(v);
         return Ok{};
       }},
      {"mirror-registry",
       [](Options& o, const std::string& v) -> Result<Ok> {
         std::string value = v;
         while (!value.empty() && value.back() == '/') value.pop_back();
         if (value.empty() || value.find("://") != std::string::npos)
           return Error{
               "--mirror-registry takes HOST[:PORT][/PATH] without a "
               "scheme, not \"" +
               v + "\""};
         o.mirror_registries.push_back(value);
         return Ok{};
       }},
      {"secrets",
       [](Options& o, const std::string& v) -> Result<Ok> {
         if (v == "pod")
           o.secrets = SecretsMode::kPod;
         else if (v == "namespace")
           o.secrets = SecretsMode::kNamespace;
         else
           return Error{"--secrets takes pod or namespace, not \"" + v + "\""};
         return Ok{};
       }},
      {"api-identity",
       [](Options& o, const std::string& v) -> Result<Ok> {
         if (v == "token")
           o.api_identity = ApiIdentity::kToken;
         else if (v == "node")
           o.api_identity = ApiIdentity::kNode;
         else
           return Error{"--api-identity takes token or node, not \"" + v +
                        "\""};
         return Ok{};
       }},
      {"ticket-dir", Path(&Options::ticket_dir)},
      {"runtime",
       [](Options& o, const std::string& v) -> Result<Ok> {
         if (v == "crio" || v == "cri-o")
           o.runtime = Runtime::kCrio;
         else if (v == "containerd")
           o.runtime = Runtime::kContainerd;
         else
           return Error{"--runtime takes crio or containerd, not \"" + v +
                        "\""};
         return Ok{};
       }},
      {"ticket-ttl",
       [](Options& o, const std::string& v) {
         return SetDuration(o.ticket_ttl, "ticket-ttl", v, false);
       }},
      {"log-level",
       [](Options& o, const std::string& v) -> Result<Ok> {
         if (!parse_log_level(v, o.log_level))
           return Error{"--log-level takes error, warn, info or debug, not \"" +
                        v + "\""};
         return Ok{};
       }},
      {"cache-duration",
       [](Options& o, const std::string& v) -> Result<Ok> {
         auto set = SetDuration(o.cache_duration, "cache-duration", v, true);
         if (set && o.cache_duration.count() != 0)
           return Error{
               "--cache-duration must be 0s: kubelet would not run the "
               "provider again for that long, so those pulls would find no "
               "auth file (CRI-O uses each file for one pull only); remove "
               "the flag"};
         return set;
       }},
      {"stale-after",
       [](Options& o, const std::string& v) {
         return SetDuration(o.stale_after, "stale-after", v, false);
       }},
      {"timeout",
       [](Options& o, const std::string& v) {
         return SetDuration(o.timeout, "timeout", v, false);
       }},
  };
  return flags;
}

const std::map<std::string, bool Options::*>& BoolFlags() {
  static const std::map<std::string, bool Options::*> flags = {
      {"insecure-skip-tls-verify", &Options::insecure_skip_tls_verify},
      {"version", &Options::version},
      {"version-json", &Options::version_json},
      {"json", &Options::json},
      {"help", &Options::help},
  };
  return flags;
}

}  // namespace

Result<ParsedArgs> parse_args(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  size_t i = 0;
  static const std::pair<const char*, Command> kSubcommands[] = {
      {"resolve", Command::kResolve},
      {"match", Command::kMatch},
      {"kubelet-config", Command::kKubeletConfig},
      {"doctor", Command::kDoctor},
  };
  for (const auto& [word, command] : kSubcommands)
    if (!args.empty() && args[0] == word) {
      parsed.command = command;
      i = 1;
    }
  Options& o = parsed.options;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      o.positional.insert(o.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-h") {
      o.help = true;
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      if (parsed.command == Command::kProvider)
        return Error{"unexpected argument \"" + arg +
                     "\": the provider takes only flags (see --help)"};
      o.positional.push_back(arg);
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
    if (auto b = BoolFlags().find(name); b != BoolFlags().end()) {
      if (has_value && value != "true" && value != "false")
        return Error{"--" + name + " takes no value (or =true/=false)"};
      o.*(b->second) = !has_value || value == "true";
      o.given.emplace_back(name, o.*(b->second) ? "true" : "false");
      continue;
    }
    auto f = ValueFlags().find(name);
    if (f == ValueFlags().end())
      return Error{"unknown flag --" + name +
                   ": see --help for the flags this version takes"};
    if (!has_value) {
      if (i + 1 >= args.size()) return Error{"--" + name + " needs a value"};
      value = args[++i];
    }
    if (auto set = f->second(o, value); !set) return set.error();
    o.given.emplace_back(name, value);
  }
  return parsed;
}

std::vector<std::string> flag_names() {
  std::vector<std::string> names;
  for (const auto& [name, setter] : ValueFlags()) names.push_back(name);
  for (const auto& [name, field] : BoolFlags()) names.push_back(name);
  return names;
}
