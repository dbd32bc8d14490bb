#include "cluster.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "kubeconfig.h"

namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str().substr(0, 1 << 16);
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') &&
      s.back() == s.front())
    s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// The CN of the first certificate in `pem`, if it is system:node:<name>.
std::string NodeNameFromCertificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert =
      bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  std::string name;
  if (cert) {
    char cn[256] = {0};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                  cn, sizeof cn) > 0) {
      std::string_view s = cn;
      if (s.starts_with("system:node:")) name = s.substr(12);
    }
    X509_free(cert);
  }
  BIO_free(bio);
  return name;
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
    std::string key = Trim(l.substr(0, eq));
    std::string value = Trim(l.substr(eq + 1));
    if (key == "KUBERNETES_SERVICE_HOST") host = value;
    if (key == "KUBERNETES_SERVICE_PORT") port = value;
  }
  if (host.empty()) return "";
  if (host.find(':') != std::string::npos && host.front() != '[')
    host = "[" + host + "]";  // IPv6 literal
  return "https://" + host + ":" + (port.empty() ? "443" : port);
}

Result<ClusterAccess> cluster_access(const Options& options,
                                     const std::string& pod_token,
                                     const Logger& log) {
  ClusterAccess access;
  ApiConfig& api = access.api;
  api.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
  api.insecure_skip_tls_verify = options.insecure_skip_tls_verify;

  if (options.api_identity == ApiIdentity::kNode) {
    std::string path = options.kubeconfig;
    if (path.empty()) {
      for (const char* candidate :
           {"/var/lib/kubelet/kubeconfig", "/etc/kubernetes/kubelet.conf"})
        if (Exists(candidate)) {
          path = candidate;
          break;
        }
      if (path.empty())
        return Error{
            "--api-identity=node needs the kubelet's kubeconfig, found "
            "neither /var/lib/kubelet/kubeconfig nor "
            "/etc/kubernetes/kubelet.conf: pass --kubeconfig"};
    }
    auto kubeconfig = load_kubeconfig(path);
    if (!kubeconfig) return kubeconfig.error();
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

  if (!options.api_server.empty()) {
    api.server = options.api_server;
  } else if (api.server.empty()) {
    std::string env_file = options.kube_config_dir + "/apiserver-url.env";
    if (Exists(env_file))
      api.server = server_from_env_file(ReadSmallFile(env_file));
    if (api.server.empty()) api.server = "https://localhost:6443";
  }

  if (!options.ca_file.empty()) {
    api.ca_file = options.ca_file;
    api.ca_pem.clear();
  } else if (api.ca_pem.empty()) {
    std::string kubeadm_ca = options.kube_config_dir + "/pki/ca.crt";
    if (Exists(kubeadm_ca)) api.ca_file = kubeadm_ca;
  }
  if (api.insecure_skip_tls_verify)
    log.warn(
        "TLS verification of the API server is off "
        "(--insecure-skip-tls-verify): anyone on the path can read the "
        "pull secrets; pass --ca-file instead");
  log.debug("API server " + api.server + ", CA " +
            (!api.ca_file.empty()  ? api.ca_file
             : !api.ca_pem.empty() ? std::string("from the kubeconfig")
                                   : std::string("system trust store")));
  return access;
}
