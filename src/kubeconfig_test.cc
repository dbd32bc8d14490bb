// Tests of load_kubeconfig with certificates generated here.
#include "kubeconfig.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base64.h"
#include "gtest/gtest.h"

namespace {

struct Identity {
  std::string cert_pem;
  std::string key_pem;              // PKCS#8 "PRIVATE KEY"
  std::string traditional_key_pem;  // "EC PRIVATE KEY", as kubelet writes
  std::string encrypted_key_pem;
};

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// A self-signed P-256 certificate; times are ASN.1 "YYYYMMDDHHMMSSZ" or
// empty for "an hour ago" / "in a day".
Identity MakeIdentity(const std::string& cn, const std::string& not_before = "",
                      const std::string& not_after = "", bool ca = false) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"),
                                                          EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 7);
  if (not_before.empty()) {
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  } else {
    ASN1_TIME_set_string(X509_getm_notBefore(x.get()), not_before.c_str());
  }
  if (not_after.empty()) {
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
  } else {
    ASN1_TIME_set_string(X509_getm_notAfter(x.get()), not_after.c_str());
  }
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  if (ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x.get(), key.get(), EVP_sha256());
  Identity id;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x.get());
  id.cert_pem = BioString(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr,
                           nullptr);
  id.key_pem = BioString(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey_traditional(bio, key.get(), nullptr, nullptr, 0,
                                       nullptr, nullptr);
  id.traditional_key_pem = BioString(bio);
  bio = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  PEM_write_bio_PKCS8PrivateKey(bio, key.get(), EVP_aes_128_cbc(), pass,
                                sizeof pass - 1, nullptr, nullptr);
  id.encrypted_key_pem = BioString(bio);
  return id;
}

struct Material {
  Identity ca = MakeIdentity("kubernetes", "", "", true);
  Identity node = MakeIdentity("system:node:node1");
  Identity other = MakeIdentity("system:node:node2");
  Identity expired =
      MakeIdentity("system:node:old", "20190101000000Z", "20200101000000Z");
  Identity future =
      MakeIdentity("system:node:new", "20990101000000Z", "21000101000000Z");
};

const Material& M() {
  static const Material* m = new Material();
  return *m;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kubeconfig_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& data) const {
    std::filesystem::path p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << data;
    return p.string();
  }

 private:
  std::string path_;
};

// A kubeconfig with one cluster/user/context; `cluster` and `user` are the
// YAML mapping bodies (indented by the caller's choice of flow style).
std::string Kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& current = "ctx") {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: " +
         cluster +
         "\ncontexts:\n- name: other\n  context: {cluster: missing, user: "
         "missing}\n- name: ctx\n  context: {cluster: c, user: u}\n" +
         (current.empty() ? "" : "current-context: " + current + "\n") +
         "users:\n- name: u\n  user: " + user + "\n";
}

const char kServer[] = "https://10.0.0.1:6443";

std::string ClusterData() {
  return std::string("{server: '") + kServer +
         "', certificate-authority-data: " + base64_encode(M().ca.cert_pem) +
         "}";
}

TEST(LoadKubeconfig, VariantsTable) {
  const Material& m = M();
  struct Case {
    std::string name;
    // Writes files into the directory and returns the kubeconfig text.
    std::function<std::string(const TempDir&)> setup;
    std::string kubeconfig_name;  // relative to the directory
    std::string ca_pem;
    std::string cert_pem;
    std::string key_pem;
    bool insecure;
  };
  const Case cases[] = {
      {"inline data",
       [&](const TempDir&) {
         return Kubeconfig(
             ClusterData(),
             "{client-certificate-data: " + base64_encode(m.node.cert_pem) +
                 ", client-key-data: " + base64_encode(m.node.key_pem) + "}");
       },
       "kubeconfig", m.ca.cert_pem, m.node.cert_pem, m.node.key_pem, false},
      {"absolute files",
       [&](const TempDir& d) {
         std::string ca = d.Write("pki/ca.crt", m.ca.cert_pem);
         std::string crt = d.Write("pki/node.crt", m.node.cert_pem);
         std::string key = d.Write("pki/node.key", m.node.key_pem);
         return Kubeconfig(
             std::string("{server: '") + kServer +
                 "', certificate-authority: " + ca + "}",
             "{client-certificate: " + crt + ", client-key: " + key + "}");
       },
       "kubeconfig", m.ca.cert_pem, m.node.cert_pem, m.node.key_pem, false},
      {"relative files resolve against the kubeconfig's directory",
       [&](const TempDir& d) {
         d.Write("etc/pki/ca.crt", m.ca.cert_pem);
         d.Write("etc/pki/node.crt", m.node.cert_pem);
         d.Write("etc/pki/node.key", m.node.key_pem);
         return Kubeconfig(std::string("{server: '") + kServer +
                               "', certificate-authority: pki/ca.crt}",
                           "{client-certificate: pki/node.crt, client-key: "
                           "./pki/node.key}");
       },
       "etc/kubelet.conf", m.ca.cert_pem, m.node.cert_pem, m.node.key_pem,
       false},
      {"kubelet-client-current.pem for both (cert first)",
       [&](const TempDir& d) {
         d.Write("pki/kubelet-client-current.pem",
                 m.node.cert_pem + m.node.traditional_key_pem);
         return Kubeconfig(
             ClusterData(),
             "{client-certificate: pki/kubelet-client-current.pem, "
             "client-key: pki/kubelet-client-current.pem}");
       },
       "kubeconfig", m.ca.cert_pem, m.node.cert_pem, m.node.traditional_key_pem,
       false},
      {"combined PEM, key first, with text around blocks",
       [&](const TempDir& d) {
         d.Write("pki/current.pem", "# rotated\n" + m.node.key_pem +
                                        "junk between\n" + m.node.cert_pem +
                                        "trailing\n");
         return Kubeconfig(ClusterData(),
                           "{client-certificate: pki/current.pem, "
                           "client-key: pki/current.pem}");
       },
       "kubeconfig", m.ca.cert_pem, m.node.cert_pem, m.node.key_pem, false},
      {"combined PEM as certificate only: the key comes from it",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(),
                           "{client-certificate-data: " +
                               base64_encode(m.node.cert_pem + m.node.key_pem) +
                               "}");
       },
       "kubeconfig", m.ca.cert_pem, m.node.cert_pem, m.node.key_pem, false},
      {"data wins over a file",
       [&](const TempDir&) {
         return Kubeconfig(
             std::string("{server: '") + kServer +
                 "', certificate-authority: /nonexistent/ca.crt, "
                 "certificate-authority-data: " +
                 base64_encode(m.ca.cert_pem) + "}",
             "{client-certificate: /nonexistent/a, client-key: "
             "/nonexistent/b, client-certificate-data: " +
                 base64_encode(m.node.cert_pem) +
                 ", client-key-data: " + base64_encode(m.node.key_pem) + "}");
       },
       "kubeconfig", m.ca.cert_pem, m.node.cert_pem, m.node.key_pem, false},
      {"no CA, insecure",
       [&](const TempDir&) {
         return Kubeconfig(
             std::string("{server: '") + kServer +
                 "', insecure-skip-tls-verify: true}",
             "{client-certificate-data: " + base64_encode(m.node.cert_pem) +
                 ", client-key-data: " + base64_encode(m.node.key_pem) + "}");
       },
       "kubeconfig", "", m.node.cert_pem, m.node.key_pem, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    std::string path = dir.Write(c.kubeconfig_name, c.setup(dir));
    auto kc = load_kubeconfig(path);
    ASSERT_TRUE(kc.ok()) << kc.error().message;
    EXPECT_EQ(kc->server, kServer);
    EXPECT_EQ(kc->ca_pem, c.ca_pem);
    EXPECT_EQ(kc->client_cert_pem, c.cert_pem);
    EXPECT_EQ(kc->client_key_pem, c.key_pem);
    EXPECT_EQ(kc->insecure_skip_tls_verify, c.insecure);
  }
}

TEST(LoadKubeconfig, ErrorsTable) {
  const Material& m = M();
  const std::string user_ok =
      "{client-certificate-data: " + base64_encode(m.node.cert_pem) +
      ", client-key-data: " + base64_encode(m.node.key_pem) + "}";
  struct Case {
    std::string name;
    std::function<std::string(const TempDir&)> setup;  // nullptr: no file
    std::string error_part;
  };
  const Case cases[] = {
      {"file missing", nullptr,
       "cannot read it: No such file or directory: pass --kubeconfig"},
      {"not YAML", [](const TempDir&) { return "clusters: [unclosed\n"; },
       "not valid YAML"},
      {"YAML but not a mapping",
       [](const TempDir&) { return "just a string\n"; }, "not a kubeconfig"},
      {"clusters not a list",
       [](const TempDir&) {
         return "clusters: 5\ncurrent-context: ctx\ncontexts:\n- name: ctx\n"
                "  context: {cluster: c, user: u}\n";
       },
       "clusters is not a list"},
      {"no current-context",
       [&](const TempDir&) { return Kubeconfig(ClusterData(), user_ok, ""); },
       "no current-context"},
      {"current-context not found",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(), user_ok, "nope");
       },
       "context \"nope\" not found in contexts"},
      {"context's cluster not found",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(), user_ok, "other");
       },
       "cluster \"missing\" not found in clusters"},
      {"cluster without server",
       [&](const TempDir&) {
         return Kubeconfig("{certificate-authority-data: " +
                               base64_encode(m.ca.cert_pem) + "}",
                           user_ok);
       },
       "cluster \"c\" has no server"},
      {"CA file missing",
       [&](const TempDir&) {
         return Kubeconfig(std::string("{server: '") + kServer +
                               "', certificate-authority: missing-ca.crt}",
                           user_ok);
       },
       "missing-ca.crt: No such file or directory"},
      {"CA data not PEM",
       [&](const TempDir&) {
         return Kubeconfig(std::string("{server: '") + kServer +
                               "', certificate-authority-data: " +
                               base64_encode("hello") + "}",
                           user_ok);
       },
       "certificate-authority-data: no PEM certificate found"},
      {"insecure flag not a boolean",
       [&](const TempDir&) {
         return Kubeconfig(std::string("{server: '") + kServer +
                               "', insecure-skip-tls-verify: maybe}",
                           user_ok);
       },
       "insecure-skip-tls-verify is not a boolean"},
      {"token user",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(), "{token: abc}");
       },
       "user \"u\" has no client certificate (it uses token): "
       "--api-identity=node needs"},
      {"exec user",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(),
                           "{exec: {command: aws, apiVersion: "
                           "client.authentication.k8s.io/v1}}");
       },
       "has no client certificate (it uses exec)"},
      {"certificate without key",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(), "{client-certificate-data: " +
                                              base64_encode(m.node.cert_pem) +
                                              "}");
       },
       "has a client certificate but no client-key"},
      {"certificate data not base64",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(),
                           "{client-certificate-data: '!!', client-key-data: " +
                               base64_encode(m.node.key_pem) + "}");
       },
       "client-certificate-data is not valid base64"},
      {"certificate file missing",
       [&](const TempDir&) {
         return Kubeconfig(ClusterData(),
                           "{client-certificate: pki/gone.pem, client-key: "
                           "pki/gone.pem}");
       },
       "pki/gone.pem: No such file or directory"},
      {"key file without a key",
       [&](const TempDir& d) {
         d.Write("node.crt", m.node.cert_pem);
         return Kubeconfig(ClusterData(),
                           "{client-certificate: node.crt, client-key: "
                           "node.crt}");
       },
       "node.crt: no PEM private key found"},
      {"certificate expired",
       [&](const TempDir&) {
         return Kubeconfig(
             ClusterData(),
             "{client-certificate-data: " + base64_encode(m.expired.cert_pem) +
                 ", client-key-data: " + base64_encode(m.expired.key_pem) +
                 "}");
       },
       "the client certificate (CN=system:node:old) of user \"u\" expired at "
       "2020-01-01 00:00:00 UTC: renew the kubelet client certificate"},
      {"certificate not yet valid",
       [&](const TempDir&) {
         return Kubeconfig(
             ClusterData(),
             "{client-certificate-data: " + base64_encode(m.future.cert_pem) +
                 ", client-key-data: " + base64_encode(m.future.key_pem) + "}");
       },
       "is not valid before 2099-01-01 00:00:00 UTC: check the node's clock"},
      {"key does not match",
       [&](const TempDir&) {
         return Kubeconfig(
             ClusterData(),
             "{client-certificate-data: " + base64_encode(m.node.cert_pem) +
                 ", client-key-data: " + base64_encode(m.other.key_pem) + "}");
       },
       "does not match its client certificate"},
      {"encrypted key",
       [&](const TempDir&) {
         return Kubeconfig(
             ClusterData(),
             "{client-certificate-data: " + base64_encode(m.node.cert_pem) +
                 ", client-key-data: " +
                 base64_encode(m.node.encrypted_key_pem) + "}");
       },
       "the private key is encrypted"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    std::string path = dir.path() + "/kubeconfig";
    if (c.setup) path = dir.Write("kubeconfig", c.setup(dir));
    auto kc = load_kubeconfig(path);
    ASSERT_FALSE(kc.ok());
    const std::string& msg = kc.error().message;
    EXPECT_NE(msg.find(c.error_part), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("kubeconfig " + path + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    // Never a key or certificate in a message.
    EXPECT_EQ(msg.find("-----BEGIN"), std::string::npos) << msg;
    std::string key_body =
        m.node.key_pem.substr(m.node.key_pem.find('\n') + 1, 40);
    EXPECT_EQ(msg.find(key_body), std::string::npos) << msg;
  }
}

TEST(LoadKubeconfig, Directory) {
  TempDir dir;
  auto kc = load_kubeconfig(dir.path());
  ASSERT_FALSE(kc.ok());
  EXPECT_NE(kc.error().message.find("cannot read it: Is a directory"),
            std::string::npos)
      << kc.error().message;
}

TEST(LoadKubeconfig, Unreadable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  TempDir dir;
  std::string path = dir.Write("kubeconfig", "current-context: x\n");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  auto kc = load_kubeconfig(path);
  ASSERT_FALSE(kc.ok());
  EXPECT_NE(kc.error().message.find("Permission denied"), std::string::npos)
      << kc.error().message;
}

}  // namespace
