#include "doctor.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api_errors.h"
#include "cluster.h"
#include "command.h"
#include "crio_config.h"
#include "doctor_cluster.h"
#include "duration.h"
#include "flags.h"
#include "http.h"
#include "json.h"
#include "keyring.h"
#include "kubelet_config.h"
#include "log.h"
#include "pull_records.h"

namespace {

constexpr std::string_view kGate =
    "KubeletServiceAccountTokenForCredentialProviders";
constexpr const char* kDefaultConfig =
    "/etc/kubernetes/credential-provider.yaml";

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string VersionText(const std::array<int, 3>& v) {
  return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." +
         std::to_string(v[2]);
}

// kubelet's command line, if a kubelet runs on this node.
std::vector<std::string> KubeletCommandLine() {
  DIR* proc = ::opendir("/proc");
  if (!proc) return {};
  std::vector<std::string> args;
  while (dirent* e = ::readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name != "kubelet") continue;
    std::ifstream cmdline(base + "/cmdline");
    for (std::string arg; std::getline(cmdline, arg, '\0');)
      args.push_back(arg);
    break;
  }
  ::closedir(proc);
  return args;
}

std::optional<std::string> FlagValue(const std::vector<std::string>& args,
                                     std::string_view flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.starts_with("-") && !a.starts_with("--")) a.remove_prefix(1);
    if (!a.starts_with("--")) continue;
    a.remove_prefix(2);
    if (a == flag && i + 1 < args.size()) return args[i + 1];
    if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=')
      return std::string(a.substr(flag.size() + 1));
  }
  return std::nullopt;
}

// The gate's explicit setting: kubelet's --feature-gates wins over its
// config file's featureGates.
std::optional<bool> ExplicitGate(const std::vector<std::string>& kubelet) {
  if (auto gates = FlagValue(kubelet, "feature-gates")) {
    std::istringstream items(*gates);
    for (std::string item; std::getline(items, item, ',');)
      if (item.starts_with(std::string(kGate) + "="))
        return item.substr(kGate.size() + 1) == "true";
  }
  if (auto config = FlagValue(kubelet, "config")) {
    try {
      YAML::Node gate =
          YAML::LoadFile(*config)["featureGates"][std::string(kGate)];
      if (gate) return gate.as<bool>();
    } catch (const YAML::Exception&) {
    }
  }
  return std::nullopt;
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

void Print(const std::vector<CheckResult>& checks, bool json) {
  auto status_name = [](CheckStatus s) {
    return s == CheckStatus::kOk     ? "OK"
           : s == CheckStatus::kWarn ? "WARN"
                                     : "FAIL";
  };
  if (json) {
    nlohmann::json out = {{"checks", nlohmann::json::array()}};
    bool ok = true;
    for (const CheckResult& c : checks) {
      out["checks"].push_back({{"name", c.name},
                               {"status", status_name(c.status)},
                               {"message", c.message},
                               {"fix", c.fix}});
      ok = ok && c.status != CheckStatus::kFail;
    }
    out["ok"] = ok;
    std::cout << out.dump(2, ' ', false,
                          nlohmann::json::error_handler_t::replace)
              << "\n";
    return;
  }
  for (const CheckResult& c : checks) {
    std::string status = status_name(c.status);
    status.resize(5, ' ');
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size() + 1, 28), ' ');
    std::cout << status << name << c.message << "\n";
    if (!c.fix.empty()) std::cout << "     fix: " << c.fix << "\n";
  }
}

}  // namespace

bool pattern_covers_prefix(const std::string& pattern,
                           const std::string& prefix) {
  std::string image = prefix;
  if (image.starts_with("*.")) image = "sub" + image.substr(1);
  return kubelet_urls_match(pattern, image);
}

std::vector<CheckResult> check_provider_entry(const ProviderEntry& e,
                                              const ProviderOptions& provider,
                                              const RegistriesConf* conf) {
  std::vector<CheckResult> out;
  if (e.api_version == kProviderApiVersion)
    out.push_back(passed("api-version", e.api_version));
  else
    out.push_back(failed("api-version",
                         "apiVersion is \"" + e.api_version + "\"",
                         "set apiVersion: " + std::string(kProviderApiVersion) +
                             " (tokenAttributes needs v1)"));

  bool token_mode = provider.cluster.api_identity == ApiIdentity::kToken;
  if (!e.has_token_attributes || e.audience.empty()) {
    std::string what =
        e.has_token_attributes
            ? "tokenAttributes has no serviceAccountTokenAudience"
            : "no tokenAttributes";
    std::string fix =
        "add tokenAttributes: {serviceAccountTokenAudience: <an audience the "
        "API server accepts>, cacheType: Token, requireServiceAccount: true} "
        "(crio-credential-provider kubelet-config prints it)";
    if (token_mode)
      out.push_back(failed("token-attributes",
                           what + ": kubelet sends the provider no "
                                  "service-account token, every pull fails",
                           fix));
    else
      out.push_back(warned("token-attributes",
                           what + ": kubelet records mirror pulls as open to "
                                  "every pod on the node",
                           fix));
  } else if (e.require_service_account != true) {
    out.push_back(warned("token-attributes",
                         "requireServiceAccount is not true: pods without a "
                         "service account reach the provider with no token",
                         "set tokenAttributes.requireServiceAccount: true"));
  } else {
    out.push_back(
        passed("token-attributes", "audience \"" + e.audience + "\""));
  }

  if (e.has_token_attributes) {
    if (e.cache_type == "Token" || e.cache_type == "ServiceAccount")
      out.push_back(passed("cache-type", e.cache_type));
    else
      out.push_back(failed(
          "cache-type",
          e.cache_type.empty()
              ? "tokenAttributes has no cacheType: kubelet >= 1.36 rejects "
                "the whole config and runs no provider"
              : "cacheType \"" + e.cache_type +
                    "\" is not Token or ServiceAccount",
          "set tokenAttributes.cacheType: Token"));
  }

  if (!e.default_cache_duration)
    out.push_back(failed("cache-duration",
                         "no defaultCacheDuration: kubelet rejects the config",
                         "set defaultCacheDuration: \"0s\""));
  else if (provider.cache_duration.count() != 0)
    out.push_back(
        warned("cache-duration",
               "the provider's --cache-duration is not 0s: kubelet "
               "reuses an answer and CRI-O finds no auth file for the "
               "next pulls, and a rotated Secret takes effect late",
               "remove --cache-duration from the provider's args"));
  else
    out.push_back(
        passed("cache-duration",
               "the provider answers cacheDuration 0s (defaultCacheDuration " +
                   *e.default_cache_duration + " is not used)"));

  if (!conf) return out;
  std::vector<std::string> needed =
      prefixes_needing_provider(*conf, provider.registries.mirror_registries);
  std::vector<std::string> uncovered, mirror_only;
  for (const std::string& prefix : needed)
    if (std::none_of(e.match_images.begin(), e.match_images.end(),
                     [&](const std::string& p) {
                       return pattern_covers_prefix(p, prefix);
                     }))
      uncovered.push_back(prefix);
  // A pattern that matches a mirror but no source: kubelet matches the
  // pod's image, which names the source, so it never fires.
  for (const std::string& pattern : e.match_images) {
    bool source = std::any_of(needed.begin(), needed.end(),
                              [&](const std::string& prefix) {
                                return pattern_covers_prefix(pattern, prefix);
                              });
    bool mirror = false;
    for (const Registry& r : conf->registries)
      for (const Endpoint& m : r.mirrors)
        mirror = mirror || pattern_covers_prefix(pattern, m.location);
    if (mirror && !source) mirror_only.push_back(pattern);
  }
  std::string fix =
      "list the source registries in matchImages, not the mirrors: "
      "crio-credential-provider kubelet-config prints them from "
      "registries.conf";
  if (!mirror_only.empty())
    out.push_back(failed(
        "match-images",
        "matchImages " + Join(mirror_only) +
            " name only mirrors: kubelet matches the pod's "
            "image (the source) and never runs the provider" +
            (uncovered.empty() ? "" : "; not covered: " + Join(uncovered)),
        fix));
  else if (!uncovered.empty())
    out.push_back(
        failed("match-images",
               "no matchImages pattern covers the mirrored prefixes " +
                   Join(uncovered) +
                   ": their pulls reach the mirror without credentials",
               fix));
  else
    out.push_back(passed(
        "match-images", "covers every mirrored prefix (" + Join(needed) + ")"));
  return out;
}

CheckResult check_feature_gate(const std::array<int, 3>* version,
                               std::optional<bool> gate) {
  std::string name = "feature-gate";
  std::string fix = "run kubelet with --feature-gates=" + std::string(kGate) +
                    "=true (or featureGates in its config file)";
  if (gate == false)
    return failed(name, std::string(kGate) + " is off: kubelet sends no token",
                  fix);
  if (!version)
    return warned(name, "cannot tell kubelet's version",
                  "pass --kubelet-bin, or check by hand: kubelet >= 1.34, or "
                  "1.33 with the gate on");
  std::string v = "kubelet " + VersionText(*version);
  if ((*version)[0] == 1 && (*version)[1] < 33)
    return failed(name, v + " cannot pass service-account tokens to providers",
                  "upgrade kubelet to >= 1.33");
  if ((*version)[0] == 1 && (*version)[1] == 33 && gate != true)
    return failed(
        name, v + ": " + std::string(kGate) + " is alpha, off by default", fix);
  return passed(name, v + ", " + std::string(kGate) + " on");
}

int run_doctor(const DoctorOptions& o) {
  std::vector<CheckResult> checks;
  std::vector<std::string> kubelet = KubeletCommandLine();

  // kubelet's CredentialProviderConfig and our entry in it.
  std::string config_path = o.credential_provider_config;
  if (config_path.empty())
    config_path = FlagValue(kubelet, "image-credential-provider-config")
                      .value_or(kDefaultConfig);
  std::string bin_dir = o.credential_provider_bin_dir;
  if (bin_dir.empty())
    bin_dir = FlagValue(kubelet, "image-credential-provider-bin-dir")
                  .value_or(SelfDir());
  auto config = load_credential_provider_config(config_path);
  const ProviderEntry* entry = config ? config->ours() : nullptr;
  if (!config)
    checks.push_back(failed("credential-provider-config",
                            config.error().message,
                            "write it with crio-credential-provider "
                            "kubelet-config and pass it to kubelet as "
                            "--image-credential-provider-config"));
  else if (!entry)
    checks.push_back(failed(
        "credential-provider-config",
        config_path + " has no provider named " + std::string(kProviderName),
        "add the entry crio-credential-provider "
        "kubelet-config prints"));
  else
    checks.push_back(
        passed("credential-provider-config",
               config_path + " lists " + std::string(kProviderName)));

  // The provider's flags: those kubelet passes it, else doctor's own.
  ProviderOptions provider = o.provider;
  if (entry) {
    auto parsed = parse_provider_args(entry->args);
    if (!parsed) {
      checks.push_back(failed("provider-args",
                              "args: " + parsed.error().message,
                              "fix the provider's args in " + config_path));
    } else {
      provider = std::move(*parsed);
    }
  }
  // doctor's own --timeout bounds its checks, else the provider's does.
  if (o.timeout_given) provider.cluster.timeout = o.provider.cluster.timeout;

  std::string binary = bin_dir + "/" + std::string(kProviderName);
  if (::access(binary.c_str(), X_OK) == 0)
    checks.push_back(passed("provider-binary", binary));
  else
    checks.push_back(
        failed("provider-binary", binary + " is missing or not executable",
               "install -m 0755 crio-credential-provider " + bin_dir +
                   "/ (kubelet's "
                   "--image-credential-provider-bin-dir)"));

  auto conf = load_registries(provider.registries);
  if (entry) {
    auto entry_checks =
        check_provider_entry(*entry, provider, conf ? &*conf : nullptr);
    checks.insert(checks.end(), entry_checks.begin(), entry_checks.end());
  }

  // kubelet's version and the feature gate.
  std::string kubelet_bin = o.kubelet_bin;
  if (!o.kubelet_bin_given && !kubelet.empty()) kubelet_bin = kubelet[0];
  auto kubelet_version =
      run_command({kubelet_bin, "--version"}, std::chrono::seconds(5));
  std::optional<std::array<int, 3>> kv;
  if (kubelet_version) kv = parse_version(*kubelet_version);
  checks.push_back(
      check_feature_gate(kv ? &*kv : nullptr, ExplicitGate(kubelet)));

  // CRI-O: version and namespaced_auth_dir.
  auto crio_version =
      run_command({o.crio_bin, "--version"}, std::chrono::seconds(5));
  std::optional<std::array<int, 3>> cv;
  if (crio_version) cv = parse_version(*crio_version);
  if (!cv)
    checks.push_back(
        warned("crio-version",
               "cannot tell CRI-O's version" +
                   (crio_version ? std::string()
                                 : ": " + crio_version.error().message),
               "pass --crio-bin; CRI-O must be >= 1.34.3"));
  else if (*cv < kCrioFirstNamespacedAuth)
    checks.push_back(
        failed("crio-version",
               "CRI-O " + VersionText(*cv) +
                   " has no namespaced_auth_dir: it never reads the "
                   "auth files",
               "upgrade CRI-O to >= 1.34.3"));
  else
    checks.push_back(passed("crio-version", "CRI-O " + VersionText(*cv)));

  auto auth_dir = crio_namespaced_auth_dir(o.crio_config, o.crio_config_dir);
  if (!auth_dir)
    checks.push_back(failed("namespaced-auth-dir", auth_dir.error().message,
                            "fix CRI-O's configuration"));
  else if (*auth_dir != provider.crio.auth_dir)
    checks.push_back(failed("namespaced-auth-dir",
                            "CRI-O reads auth files from " + *auth_dir +
                                ", the provider writes them to " +
                                provider.crio.auth_dir,
                            "make them equal: --auth-dir=" + *auth_dir +
                                " in the provider's args, or [crio.image] "
                                "namespaced_auth_dir = \"" +
                                provider.crio.auth_dir + "\" in " +
                                o.crio_config_dir + "/ (then restart CRI-O)"));
  else
    checks.push_back(passed("namespaced-auth-dir", *auth_dir));

  std::string registries = (provider.registries.registries_conf.empty()
                                ? std::string("registries.conf")
                                : provider.registries.registries_conf) +
                           " and " + provider.registries.registries_conf_dir;
  if (!conf)
    checks.push_back(failed("registries-conf", conf.error().message,
                            "fix registries.conf: CRI-O refuses it too"));
  else if (auto needed = prefixes_needing_provider(*conf, {}); needed.empty())
    checks.push_back(warned("registries-conf",
                            registries + ": no entry has a mirror",
                            "add [[registry.mirror]] entries: without mirrors "
                            "the provider has nothing to do"));
  else
    checks.push_back(passed("registries-conf", std::to_string(needed.size()) +
                                                   " mirrored prefixes (" +
                                                   Join(needed) + ") in " +
                                                   registries));

  // The API server, verified with the CA the provider would use.
  Logger quiet(LogLevel::kError, /*to_syslog=*/false);
  const ClusterOptions& cluster = provider.cluster;
  auto access = cluster_access(cluster, "", quiet);
  std::unique_ptr<HttpClient> client;
  if (!access) {
    checks.push_back(failed("api-server", access.error().message,
                            "fix the provider's args"));
  } else {
    checks.push_back(check_api_server(*access, cluster, client));
    if (cluster.api_identity == ApiIdentity::kNode &&
        checks.back().status != CheckStatus::kFail)
      checks.push_back(check_node_identity(*access, cluster, *client));
  }

  // Pull records an earlier version left open to every pod.
  std::string root = o.provider.crio.kubelet_root_dir;
  if (!o.kubelet_root_dir_given)
    root = FlagValue(kubelet, "root-dir").value_or(root);
  if (conf) {
    auto shared = shared_mirrored_pull_records(root, *conf);
    if (shared.empty()) {
      checks.push_back(passed(
          "pull-records", "no record in " + root +
                              "/image_manager/pulled shares a mirrored image "
                              "with every pod"));
    } else {
      std::vector<std::string> images;
      for (const SharedPullRecord& r : shared)
        if (std::find(images.begin(), images.end(), r.image) == images.end())
          images.push_back(r.image);
      checks.push_back(warned(
          "pull-records",
          std::to_string(shared.size()) + " kubelet pull record(s) in " + root +
              "/image_manager/pulled mark mirrored images as open to every "
              "pod (nodePodsAccessible): " +
              Join(images),
          "stop kubelet, delete those records (or remove the images with "
          "crictl rmi), start kubelet: kubelet never narrows a record, so "
          "another namespace's pods may run images pulled with a team's "
          "mirror credentials"));
    }
  }

  Print(checks, o.json);
  return std::any_of(checks.begin(), checks.end(),
                     [](const CheckResult& c) {
                       return c.status == CheckStatus::kFail;
                     })
             ? 1
             : 0;
}
