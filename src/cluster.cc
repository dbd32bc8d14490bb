#include "cluster.h"

#include <sys/stat.h>

#include <optional>
#include <sstream>

#include "file.h"
#include "kubeconfig.h"
#include "pem.h"
#include "text.h"
#include "trust_store.h"

namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

constexpr std::size_t kMaxEnvFileBytes = 64 << 10;

// A shell value: trimmed, and without one pair of surrounding quotes.
std::string Unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') &&
      s.back() == s.front())
    s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// The CN of the first certificate in `pem`, if it is system:node:<name>.
std::string NodeNameFromCertificate(const std::string& pem) {
  auto certs = read_pem_certificates(pem);
  if (!certs) return "";
  std::string cn = subject_common_name(certs->front().get());
  constexpr std::string_view kPrefix = "system:node:";
  return cn.starts_with(kPrefix) ? cn.substr(kPrefix.size()) : "";
}

// The kubelet's kubeconfig: --kubeconfig, else the first that exists of
// kubelet's usual paths; empty when none does.
std::string KubeletKubeconfigPath(const ClusterOptions& options) {
  if (!options.kubeconfig.empty()) return options.kubeconfig;
  for (const char* candidate :
       {"/var/lib/kubelet/kubeconfig", "/etc/kubernetes/kubelet.conf"})
    if (Exists(candidate)) return candidate;
  return "";
}

}  // namespace

std::string server_from_env_file(std::string_view text) {
  std::string host, port;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    std::string_view l = line;
    if (l.starts_with("export ")) l.remove_prefix(7);
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = Unquote(l.substr(0, eq));
    std::string value = Unquote(l.substr(eq + 1));
    if (key == "KUBERNETES_SERVICE_HOST") host = value;
    if (key == "KUBERNETES_SERVICE_PORT") port = value;
  }
  if (host.empty()) return "";
  if (host.find(':') != std::string::npos && host.front() != '[')
    host = "[" + host + "]";  // IPv6 literal
  return "https://" + host + ":" + (port.empty() ? "443" : port);
}

ApiErrorContext api_error_context(const ClusterAccess& access,
                                  const ClusterOptions& options) {
  ApiErrorContext c;
  c.server = access.api.server;
  c.timeout = access.api.timeout;
  c.kube_config_dir = options.kube_config_dir;
  c.node_identity = options.api_identity == ApiIdentity::kNode;
  c.node_name = access.node_name;
  return c;
}

Result<ClusterAccess> cluster_access(const ClusterOptions& options,
                                     const std::string& pod_token,
                                     const Logger& log) {
  ClusterAccess access;
  ApiConfig& api = access.api;
  api.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
  api.insecure_skip_tls_verify = options.insecure_skip_tls_verify;

  std::string kubeconfig_used;
  if (options.api_identity == ApiIdentity::kNode) {
    std::string path = KubeletKubeconfigPath(options);
    if (path.empty())
      return Error{
          "--api-identity=node needs the kubelet's kubeconfig, found "
          "neither /var/lib/kubelet/kubeconfig nor "
          "/etc/kubernetes/kubelet.conf: pass --kubeconfig"};
    auto kubeconfig = load_kubeconfig(path);
    if (!kubeconfig) return kubeconfig.error();
    kubeconfig_used = path;
    api.server = kubeconfig->server;
    api.ca_pem = kubeconfig->ca_pem;
    api.client_cert_pem = kubeconfig->client_cert_pem;
    api.client_key_pem = kubeconfig->client_key_pem;
    api.insecure_skip_tls_verify |= kubeconfig->insecure_skip_tls_verify;
    access.node_name = NodeNameFromCertificate(api.client_cert_pem);
    if (access.node_name.empty())
      return Error{"the client certificate of kubeconfig \"" + path +
                   "\" is not a node's (CN system:node:<name>): point "
                   "--kubeconfig at the kubelet's kubeconfig"};
  } else {
    api.bearer_token = pod_token;
  }

  // Token mode: kubelet's kubeconfig names the API server kubelet uses and
  // the CA that verifies it, on every distribution (OpenShift/RHCOS have no
  // pki/ca.crt). Loaded only when neither is given otherwise; a kubeconfig
  // that does not load (say, an expired client certificate) is skipped.
  std::optional<KubeConfig> kubelet_kubeconfig;
  std::string kubelet_kubeconfig_path;  // empty: none usable
  bool kubelet_kubeconfig_tried = false;
  auto kubelet = [&]() -> const KubeConfig* {
    if (!kubelet_kubeconfig_tried) {
      kubelet_kubeconfig_tried = true;
      std::string path = KubeletKubeconfigPath(options);
      if (!path.empty()) {
        auto loaded = load_kubeconfig(path);
        if (loaded) {
          kubelet_kubeconfig = std::move(*loaded);
          kubelet_kubeconfig_path = path;
        } else {
          log.debug("kubelet's kubeconfig not used: " + loaded.error().message);
        }
      }
    }
    return kubelet_kubeconfig ? &*kubelet_kubeconfig : nullptr;
  };
  bool token_mode = options.api_identity == ApiIdentity::kToken;

  if (!options.api_server.empty()) {
    api.server = options.api_server;
  } else if (api.server.empty()) {
    std::string env_file = options.kube_config_dir + "/apiserver-url.env";
    if (Exists(env_file)) {
      auto text = read_file(env_file, kMaxEnvFileBytes);
      if (!text)
        return Error{"cannot read " + env_file + ": " + text.error().message +
                     ": fix it or pass --api-server"};
      api.server = server_from_env_file(*text);
    }
    if (api.server.empty() && token_mode && kubelet())
      api.server = kubelet()->server;
    if (api.server.empty()) api.server = "https://localhost:6443";
  }

  if (!options.ca_file.empty()) {
    api.ca_file = options.ca_file;
    api.ca_pem.clear();
    access.ca_source = "--ca-file " + options.ca_file;
  } else if (!api.ca_pem.empty()) {
    access.ca_source = "kubeconfig " + kubeconfig_used;
  } else {
    std::string kubeadm_ca = options.kube_config_dir + "/pki/ca.crt";
    if (Exists(kubeadm_ca)) {
      api.ca_file = kubeadm_ca;
      access.ca_source = kubeadm_ca + " (kubeadm)";
    } else if (token_mode && kubelet() && !kubelet()->ca_pem.empty()) {
      api.ca_pem = kubelet()->ca_pem;
      access.ca_source = "kubelet's kubeconfig " + kubelet_kubeconfig_path;
    } else {
      access.ca_source = "system trust store (" + [] {
        TrustStore store = system_trust_store();
        return store.source.empty() ? std::string("OpenSSL's default paths")
                                    : store.source;
      }() + ")";
    }
  }
  if (api.insecure_skip_tls_verify) {
    access.ca_source = "none (--insecure-skip-tls-verify)";
    log.warn(
        "TLS verification of the API server is off "
        "(--insecure-skip-tls-verify): anyone on the path can read the "
        "pull secrets; pass --ca-file instead");
  }
  log.debug("API server " + api.server + ", CA " + access.ca_source);
  return access;
}
