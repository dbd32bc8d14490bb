// What each command is told by its flags: one plain struct per command,
// made of the pieces the pipeline's stages take (registries.conf, the
// cluster, the runtime's output), so a stage sees only the options it uses.
// flags.cc fills them from the one flag table in usage.cc.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "log.h"
#include "registries.h"
#include "result.h"

enum class SecretsMode { kPod, kNamespace };
enum class ApiIdentity { kToken, kNode };
// crio: write CRI-O's namespaced auth file; containerd: store a single-pull
// ticket for the mirror gateway and answer kubelet with it.
enum class Runtime { kCrio, kContainerd };

// sources: where registries.conf is and which mirrors get credentials.
struct RegistriesOptions {
  std::string registries_conf;  // empty: CRI-O's default search
  std::string registries_conf_dir = "/etc/containers/registries.conf.d";
  // Only mirrors at or under these locations get credentials; empty: all.
  std::vector<std::string> mirror_registries;
};

// secrets: where the API server is, how to trust it, who we are to it.
struct ClusterOptions {
  std::string api_server;  // empty: apiserver-url.env, then localhost:6443
  std::string kube_config_dir = "/etc/kubernetes";
  std::string ca_file;  // empty: <kube-config-dir>/pki/ca.crt, then system
  bool insecure_skip_tls_verify = false;
  ApiIdentity api_identity = ApiIdentity::kToken;
  std::string kubeconfig;  // empty: kubelet's usual paths
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);
};

// file, with --runtime=crio: the auth file CRI-O claims for one pull.
struct CrioOutputOptions {
  std::string auth_dir = "/etc/crio/auth";
  // kubelet's --root-dir: its pull intents tell which auth files a queued
  // pull still waits for.
  std::string kubelet_root_dir = "/var/lib/kubelet";
  // Longer than kubelet's 1-minute plugin timeout plus the moment kubelet
  // takes to record its pull intent; a file whose pull is still queued is
  // kept however old (pullintent.h).
  std::chrono::nanoseconds stale_after = std::chrono::minutes(5);
};

// file, with --runtime=containerd: the single-pull ticket for the gateway.
struct TicketOptions {
  // Root-only, on tmpfs: tickets hold credentials and must not outlive a
  // reboot.
  std::string ticket_dir = "/run/crio-credential-provider/tickets";
  // Long enough for a pull to wait in kubelet's serial queue (kubelet asks
  // for credentials before it queues), short enough that a ticket nobody
  // redeemed is soon worthless.
  std::chrono::nanoseconds ticket_ttl = std::chrono::minutes(5);
};

// The provider mode kubelet runs, for either runtime.
struct ProviderOptions {
  RegistriesOptions registries;
  ClusterOptions cluster;
  SecretsMode secrets = SecretsMode::kPod;
  std::string global_auth_file = "/var/lib/kubelet/config.json";
  std::chrono::nanoseconds cache_duration{0};
  LogLevel log_level = LogLevel::kInfo;
  Runtime runtime = Runtime::kCrio;
  CrioOutputOptions crio;
  TicketOptions ticket;
};

// `resolve IMAGE`: the offline stages for an operator.
struct ResolveOptions {
  RegistriesOptions registries;
  std::string global_auth_file = "/var/lib/kubelet/config.json";
  std::string namespace_name = "default";
  std::vector<std::string> dockercfg_files;
  std::string auth_file_out;
  bool json = false;
  std::vector<std::string> images;  // exactly one is valid
};

// `match IMAGE`: kubelet's keyring lookup.
struct MatchOptions {
  std::vector<std::string> dockercfg_files;
  bool json = false;
  std::vector<std::string> images;  // exactly one is valid
};

// `kubelet-config`: the provider flags given are checked as the provider
// would parse them and copied into the config's `args`.
struct KubeletConfigOptions {
  ProviderOptions provider;
  std::string audience = "https://kubernetes.default.svc.cluster.local";
  std::vector<std::string> provider_args;  // "--name=value", as given
};

// `doctor`: the provider flags given to doctor itself describe the
// provider when kubelet's config has no entry for it.
struct DoctorOptions {
  ProviderOptions provider;
  // Which of doctor's flags were given: they win over what is found on the
  // node (kubelet's command line, the provider's args).
  bool timeout_given = false;
  bool kubelet_root_dir_given = false;
  bool kubelet_bin_given = false;
  // Empty: found from kubelet's command line, then the usual paths.
  std::string credential_provider_config;
  std::string credential_provider_bin_dir;
  std::string kubelet_bin = "kubelet";
  std::string crio_bin = "crio";
  std::string crio_config = "/etc/crio/crio.conf";
  std::string crio_config_dir = "/etc/crio/crio.conf.d";
  bool json = false;
};

// `gateway`: the node-local mirror gateway for containerd
// (docs/containerd.md).
struct GatewayOptions {
  std::string ticket_dir = "/run/crio-credential-provider/tickets";
  std::string listen = "127.0.0.1:5443";
  std::string tls_cert = "/etc/crio-credential-provider/gateway.crt";
  std::string tls_key = "/etc/crio-credential-provider/gateway.key";
  std::string mirror_ca_file;  // empty: the system trust store
  std::chrono::nanoseconds pull_idle = std::chrono::seconds(60);
  std::chrono::nanoseconds pull_max = std::chrono::hours(1);
  std::chrono::nanoseconds drain_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds io_timeout = std::chrono::seconds(60);
  int max_connections = 512;
  LogLevel log_level = LogLevel::kInfo;
};

// `hosts-toml`: containerd's hosts.toml that sends registries to the
// gateway.
struct HostsTomlOptions {
  RegistriesOptions registries;
  std::string config_path = "/etc/containerd/certs.d";
  std::string gateway_url;  // empty: https://<listen>
  std::string listen = "127.0.0.1:5443";
  std::string tls_cert = "/etc/crio-credential-provider/gateway.crt";
  std::vector<std::string> extra_registries;  // --registry
  LogLevel log_level = LogLevel::kInfo;
};

// registries.conf and its drop-ins as the flags name them
// (CONTAINERS_REGISTRIES_CONF overrides the main file, as in CRI-O).
Result<RegistriesConf> load_registries(const RegistriesOptions& options);
