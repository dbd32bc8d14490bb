// Command-line flags, parsed into plain options. Every flag takes
// "--flag=value" or "--flag value".
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "log.h"
#include "result.h"

enum class SecretsMode { kPod, kNamespace };
enum class ApiIdentity { kToken, kNode };
// crio: write CRI-O's namespaced auth file; containerd: store a single-pull
// ticket for the mirror gateway and answer kubelet with it.
enum class Runtime { kCrio, kContainerd };

struct Options {
  std::string registries_conf;  // empty: CRI-O's default search
  std::string registries_conf_dir = "/etc/containers/registries.conf.d";
  std::string auth_dir = "/etc/crio/auth";
  std::string global_auth_file = "/var/lib/kubelet/config.json";
  // kubelet's --root-dir: its pull intents tell which auth files a queued
  // pull still waits for.
  std::string kubelet_root_dir = "/var/lib/kubelet";
  std::string api_server;  // empty: apiserver-url.env, then localhost:6443
  std::string kube_config_dir = "/etc/kubernetes";
  std::string ca_file;  // empty: <kube-config-dir>/pki/ca.crt, then system
  bool insecure_skip_tls_verify = false;
  ApiIdentity api_identity = ApiIdentity::kToken;
  std::string kubeconfig;  // empty: kubelet's usual paths
  SecretsMode secrets = SecretsMode::kPod;
  std::vector<std::string> mirror_registries;
  std::chrono::nanoseconds cache_duration{0};
  // Longer than kubelet's 1-minute plugin timeout plus the moment kubelet
  // takes to record its pull intent; a file whose pull is still queued is
  // kept however old (pullintent.h).
  std::chrono::nanoseconds stale_after = std::chrono::minutes(5);
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);
  LogLevel log_level = LogLevel::kInfo;
  Runtime runtime = Runtime::kCrio;
  // Root-only, on tmpfs: tickets hold credentials and must not outlive a
  // reboot.
  std::string ticket_dir = "/run/crio-credential-provider/tickets";
  // Long enough for a pull to wait in kubelet's serial queue (kubelet asks
  // for credentials before it queues), short enough that a ticket nobody
  // redeemed is soon worthless.
  std::chrono::nanoseconds ticket_ttl = std::chrono::minutes(5);
  bool version = false;
  bool version_json = false;
  bool help = false;

  // resolve and match only.
  bool json = false;
  std::string namespace_name = "default";
  std::vector<std::string> dockercfg_files;
  std::string auth_file_out;
  std::vector<std::string> positional;

  // kubelet-config only.
  std::string audience = "https://kubernetes.default.svc.cluster.local";

  // doctor only; empty: found from kubelet's command line, then the usual
  // paths.
  std::string credential_provider_config;
  std::string credential_provider_bin_dir;
  std::string kubelet_bin = "kubelet";
  std::string crio_bin = "crio";
  std::string crio_config = "/etc/crio/crio.conf";
  std::string crio_config_dir = "/etc/crio/crio.conf.d";

  // Every flag given, as {name, value} in command-line order (booleans have
  // the value "true"), so kubelet-config can copy the provider's flags into
  // the `args` it prints.
  std::vector<std::pair<std::string, std::string>> given;
};

enum class Command { kProvider, kResolve, kMatch, kKubeletConfig, kDoctor };

struct ParsedArgs {
  Command command = Command::kProvider;
  Options options;
};

// A usage error names the flag and what it takes.
Result<ParsedArgs> parse_args(const std::vector<std::string>& args);

// The name of every flag parse_args takes, without "--".
std::vector<std::string> flag_names();
