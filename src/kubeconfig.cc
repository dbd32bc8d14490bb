#include "kubeconfig.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base64.h"
#include "file.h"
#include "pem.h"

namespace {

constexpr std::size_t kMaxFileBytes = 4u << 20;

bool IsKeyLabel(const std::string& label) {
  constexpr std::string_view kSuffix = "PRIVATE KEY";
  return label.size() >= kSuffix.size() &&
         label.compare(label.size() - kSuffix.size(), kSuffix.size(),
                       kSuffix) == 0;
}

std::string FormatTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "an unreadable time";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Where a PEM came from, for messages.
struct Source {
  std::string text;
  std::string name;  // "client-certificate /x.pem" or "client-key-data"
};

class Loader {
 public:
  explicit Loader(std::string path)
      : path_(std::move(path)),
        dir_(std::filesystem::path(path_).parent_path()) {}

  Result<KubeConfig> Load() {
    auto text = read_file(path_, kMaxFileBytes);
    if (!text) {
      return Fail(
          "cannot read it: " + text.error().message +
          ": pass --kubeconfig with the kubelet's kubeconfig "
          "(/var/lib/kubelet/kubeconfig or /etc/kubernetes/kubelet.conf)");
    }
    YAML::Node root;
    try {
      root = YAML::Load(*text);
    } catch (const YAML::Exception& e) {
      return Fail("not valid YAML (" + std::string(e.what()) +
                  "): pass the kubelet's kubeconfig");
    }
    try {
      return FromYaml(root);
    } catch (const YAML::Exception& e) {
      return Fail("unexpected structure (" + std::string(e.what()) +
                  "): pass the kubelet's kubeconfig");
    }
  }

 private:
  Error Fail(const std::string& what) const {
    return Error{"kubeconfig " + path_ + ": " + what};
  }

  // A string member; nullopt when absent or null, Error when not a scalar.
  Result<std::optional<std::string>> Str(const YAML::Node& map, const char* key,
                                         const std::string& where) const {
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return std::optional<std::string>();
    if (!n.IsScalar()) return Fail(where + "." + key + " is not a string");
    return std::optional<std::string>(n.Scalar());
  }

  // The `what` (cluster/context/user) of the entry of `list` named `name`.
  Result<YAML::Node> Named(const YAML::Node& root, const char* list,
                           const char* what, const std::string& name) const {
    YAML::Node entries = root[list];
    if (entries.IsDefined() && !entries.IsNull() && !entries.IsSequence()) {
      return Fail(std::string(list) + " is not a list");
    }
    if (entries.IsSequence()) {
      for (const YAML::Node& entry : entries) {
        if (!entry.IsMap()) continue;
        YAML::Node n = entry["name"];
        if (n.IsScalar() && n.Scalar() == name) {
          YAML::Node body = entry[what];
          if (!body.IsDefined() || body.IsNull()) return YAML::Node();
          if (!body.IsMap()) {
            return Fail(std::string(what) + " \"" + name +
                        "\" is not a mapping");
          }
          return body;
        }
      }
    }
    return Fail(std::string(what) + " \"" + name + "\" not found in " + list +
                ": fix the kubeconfig or pass the kubelet's kubeconfig");
  }

  std::string Resolve(const std::string& file) const {
    std::filesystem::path p(file);
    if (p.is_relative() && !dir_.empty()) return (dir_ / p).string();
    return file;
  }

  // Inline base64 data (wins, as in client-go) or a file.
  Result<std::optional<Source>> Material(const YAML::Node& map,
                                         const std::string& key,
                                         const std::string& where) const {
    std::string data_key = key + "-data";
    auto data = Str(map, data_key.c_str(), where);
    if (!data) return data.error();
    if (*data && !(*data)->empty()) {
      auto decoded = base64_decode(**data);
      if (!decoded) {
        return Fail(where + "." + data_key + " is not valid base64");
      }
      return std::optional<Source>(Source{std::move(*decoded), data_key});
    }
    auto file = Str(map, key.c_str(), where);
    if (!file) return file.error();
    if (!*file || (*file)->empty()) return std::optional<Source>();
    std::string resolved = Resolve(**file);
    auto text = read_file(resolved, kMaxFileBytes);
    if (!text) {
      int err = text.error().err;
      std::string fix = err == EACCES || err == EPERM
                            ? ": run the provider as root, like kubelet"
                            : "";
      return Fail("cannot read " + key + " " + resolved + ": " +
                  text.error().message + fix);
    }
    return std::optional<Source>(Source{*text, key + " " + resolved});
  }

  Result<KubeConfig> FromYaml(const YAML::Node& root) {
    if (!root.IsMap()) {
      return Fail(
          "not a kubeconfig (expected a mapping with clusters, contexts and "
          "users): pass the kubelet's kubeconfig");
    }
    auto current = Str(root, "current-context", "kubeconfig");
    if (!current) return current.error();
    if (!*current || (*current)->empty()) {
      return Fail(
          "no current-context: set it (kubectl config use-context) or pass "
          "the kubelet's kubeconfig");
    }
    const std::string& context_name = **current;
    auto context = Named(root, "contexts", "context", context_name);
    if (!context) return context.error();
    std::string where = "context \"" + context_name + "\"";
    auto cluster_name = Str(*context, "cluster", where);
    if (!cluster_name) return cluster_name.error();
    auto user_name = Str(*context, "user", where);
    if (!user_name) return user_name.error();
    if (!*cluster_name || (*cluster_name)->empty()) {
      return Fail(where + " names no cluster");
    }
    if (!*user_name || (*user_name)->empty()) {
      return Fail(where + " names no user");
    }

    KubeConfig out;
    // Cluster: server, CA, insecure-skip-tls-verify.
    auto cluster = Named(root, "clusters", "cluster", **cluster_name);
    if (!cluster) return cluster.error();
    where = "cluster \"" + **cluster_name + "\"";
    auto server = Str(*cluster, "server", where);
    if (!server) return server.error();
    if (!*server || (*server)->empty()) return Fail(where + " has no server");
    out.server = **server;
    const YAML::Node& cluster_map = *cluster;
    YAML::Node insecure = cluster_map["insecure-skip-tls-verify"];
    if (insecure.IsDefined() && !insecure.IsNull()) {
      bool value = false;
      if (!insecure.IsScalar() ||
          !YAML::convert<bool>::decode(insecure, value)) {
        return Fail(where + ".insecure-skip-tls-verify is not a boolean");
      }
      out.insecure_skip_tls_verify = value;
    }
    auto ca = Material(*cluster, "certificate-authority", where);
    if (!ca) return ca.error();
    if (*ca) {
      for (const PemBlock& b : pem_blocks((*ca)->text)) {
        if (b.label == "CERTIFICATE") out.ca_pem += b.text;
      }
      if (out.ca_pem.empty()) {
        return Fail(where + " " + (*ca)->name + ": no PEM certificate found");
      }
    }

    // User: client certificate and key.
    auto user = Named(root, "users", "user", **user_name);
    if (!user) return user.error();
    where = "user \"" + **user_name + "\"";
    const YAML::Node& user_map = *user;
    auto cert = Material(user_map, "client-certificate", where);
    if (!cert) return cert.error();
    if (!*cert) {
      std::string uses;
      for (const char* k :
           {"token", "tokenFile", "exec", "auth-provider", "username"}) {
        if (user_map[k].IsDefined() && !user_map[k].IsNull()) {
          uses = std::string(" (it uses ") + k + ")";
          break;
        }
      }
      return Fail(where + " has no client certificate" + uses +
                  ": --api-identity=node needs the kubelet's kubeconfig with "
                  "a client certificate (token, exec and auth-provider users "
                  "are not supported); or use --api-identity=token");
    }
    auto key = Material(user_map, "client-key", where);
    if (!key) return key.error();
    for (const PemBlock& b : pem_blocks((*cert)->text)) {
      if (b.label == "CERTIFICATE") out.client_cert_pem += b.text;
    }
    if (out.client_cert_pem.empty()) {
      return Fail(where + " " + (*cert)->name + ": no PEM certificate found");
    }
    // Without client-key, accept a key in the certificate's own file (as
    // in kubelet-client-current.pem).
    const Source& key_source = *key ? **key : **cert;
    for (const PemBlock& b : pem_blocks(key_source.text)) {
      if (IsKeyLabel(b.label)) {
        if (b.label == "ENCRYPTED PRIVATE KEY") {
          return Fail(where + " " + key_source.name +
                      ": the private key is encrypted, which is not "
                      "supported");
        }
        out.client_key_pem = b.text;
        break;
      }
    }
    if (out.client_key_pem.empty()) {
      if (!*key) {
        return Fail(where + " has a client certificate but no client-key");
      }
      return Fail(where + " " + key_source.name + ": no PEM private key found");
    }
    auto checked = CheckIdentity(out, where, (*cert)->name, key_source.name);
    if (!checked) return checked.error();
    return out;
  }

  Result<Ok> CheckIdentity(const KubeConfig& kc, const std::string& where,
                           const std::string& cert_name,
                           const std::string& key_name) const {
    auto certs = read_pem_certificates(kc.client_cert_pem);
    if (!certs) {
      return Fail(where + " " + cert_name + ": cannot parse the certificate (" +
                  certs.error().message + ")");
    }
    auto key = read_pem_private_key(kc.client_key_pem);
    if (!key) {
      return Fail(where + " " + key_name + ": cannot parse the private key (" +
                  key.error().message + ")");
    }
    X509* cert = certs->front().get();
    std::string cn = subject_common_name(cert);
    std::string subject = cn.empty() ? "" : " (CN=" + cn + ")";
    const ASN1_TIME* not_after = X509_get0_notAfter(cert);
    if (X509_cmp_current_time(not_after) <= 0) {
      return Fail("the client certificate" + subject + " of " + where +
                  " expired at " + FormatTime(not_after) +
                  ": renew the kubelet client certificate (kubelet rotates "
                  "it into /var/lib/kubelet/pki/kubelet-client-current.pem "
                  "with rotateCertificates: true)");
    }
    const ASN1_TIME* not_before = X509_get0_notBefore(cert);
    if (X509_cmp_current_time(not_before) >= 0) {
      return Fail("the client certificate" + subject + " of " + where +
                  " is not valid before " + FormatTime(not_before) +
                  ": check the node's clock");
    }
    if (X509_check_private_key(cert, key->get()) != 1) {
      ERR_clear_error();
      return Fail("the client key of " + where +
                  " does not match its client certificate: point "
                  "client-key at the certificate's own key");
    }
    return Ok{};
  }

  std::string path_;
  std::filesystem::path dir_;
};

}  // namespace

Result<KubeConfig> load_kubeconfig(const std::string& path) {
  return Loader(path).Load();
}
