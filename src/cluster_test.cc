#include "cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base64.h"
#include "test_pki.h"

using tls_test_server::Pki;
using tls_test_server::TestPki;

namespace {

struct Node {
  std::filesystem::path dir;
  Node()
      : dir(std::filesystem::temp_directory_path() /
            ("ccp-cluster-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "etc-kubernetes");
  }
  ~Node() { std::filesystem::remove_all(dir); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories((dir / name).parent_path());
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
  // kubelet's kubeconfig, with the CA and client certificate inline.
  std::string Kubeconfig() const {
    const Pki& pki = TestPki();
    return Write(
        "kubelet.conf",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
        "    server: https://api.internal:6443\n"
        "    certificate-authority-data: " +
            base64_encode(pki.ca.cert_pem) +
            "\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
            base64_encode(pki.client.cert_pem) +
            "\n    client-key-data: " + base64_encode(pki.client.key_pem) +
            "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
            "current-context: x\n");
  }
  ClusterOptions TokenMode() const {
    ClusterOptions o;
    o.kube_config_dir = (dir / "etc-kubernetes").string();
    o.kubeconfig = Kubeconfig();
    return o;
  }
};

Logger& Quiet() {
  static Logger log(LogLevel::kError, false);
  return log;
}

}  // namespace

// OpenShift/RHCOS: no pki/ca.crt, no --ca-file: the CA (and server) kubelet
// itself uses, before the system trust store.
TEST(ClusterAccess, TokenModeFallsBackToKubeletsKubeconfig) {
  Node node;
  auto access = cluster_access(node.TokenMode(), "token", Quiet());
  ASSERT_TRUE(access.ok()) << access.error().message;
  EXPECT_EQ(access->api.ca_pem, TestPki().ca.cert_pem);
  EXPECT_EQ(access->api.ca_file, "");
  EXPECT_EQ(access->api.server, "https://api.internal:6443");
  EXPECT_EQ(access->api.bearer_token, "token");
  EXPECT_EQ(access->api.client_cert_pem, "") << "token mode sends no cert";
  EXPECT_EQ(access->ca_source,
            "kubelet's kubeconfig " + (node.dir / "kubelet.conf").string());
}

TEST(ClusterAccess, ExplicitAndKubeadmCaComeFirst) {
  Node node;
  ClusterOptions o = node.TokenMode();
  o.api_server = "https://10.0.0.1:6443";
  std::string kubeadm =
      node.Write("etc-kubernetes/pki/ca.crt", TestPki().other_ca.cert_pem);
  auto a = cluster_access(o, "t", Quiet());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->api.ca_file, kubeadm);
  EXPECT_EQ(a->api.ca_pem, "");
  EXPECT_EQ(a->api.server, "https://10.0.0.1:6443");
  EXPECT_EQ(a->ca_source, kubeadm + " (kubeadm)");
  o.ca_file = "/x/ca.pem";
  auto b = cluster_access(o, "t", Quiet());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->api.ca_file, "/x/ca.pem");
  EXPECT_EQ(b->ca_source, "--ca-file /x/ca.pem");
}

TEST(ClusterAccess, UnusableKubeconfigLeavesTheSystemStore) {
  Node node;
  ClusterOptions o = node.TokenMode();
  o.kubeconfig = node.Write("broken.conf", "current-context: nope\n");
  auto access = cluster_access(o, "t", Quiet());
  ASSERT_TRUE(access.ok());
  EXPECT_EQ(access->api.ca_pem, "");
  EXPECT_EQ(access->api.server, "https://localhost:6443");
  EXPECT_TRUE(access->ca_source.starts_with("system trust store ("))
      << access->ca_source;
}
