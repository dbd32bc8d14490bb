#include "trust_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

struct Root {
  std::filesystem::path path;
  explicit Root(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("ccp-trust-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
  }
  ~Root() { std::filesystem::remove_all(path); }
  void Put(const std::string& relative) const {
    std::filesystem::create_directories((path / relative).parent_path());
    std::ofstream(path / relative) << "-----BEGIN CERTIFICATE-----\n";
  }
  std::string str() const { return path.string(); }
};

}  // namespace

TEST(TrustStore, RhelFedoraBundle) {
  Root rhel("rhel");
  rhel.Put("etc/pki/tls/certs/ca-bundle.crt");
  rhel.Put("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
  TrustStore s = find_trust_store(rhel.str(), nullptr, nullptr);
  EXPECT_EQ(s.file, rhel.str() + "/etc/pki/tls/certs/ca-bundle.crt");
  EXPECT_EQ(s.dir, "");
}

TEST(TrustStore, CaTrustExtractedOnly) {
  Root r("extracted");
  r.Put("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
  EXPECT_EQ(find_trust_store(r.str(), nullptr, nullptr).file,
            r.str() + "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
}

TEST(TrustStore, DebianHashedDirectoryBeforeItsBundle) {
  Root debian("debian");
  debian.Put("etc/ssl/certs/ca-certificates.crt");
  TrustStore bundle = find_trust_store(debian.str(), nullptr, nullptr);
  EXPECT_EQ(bundle.file, debian.str() + "/etc/ssl/certs/ca-certificates.crt");
  debian.Put("etc/ssl/certs/5ad8a5d6.0");
  TrustStore hashed = find_trust_store(debian.str(), nullptr, nullptr);
  EXPECT_EQ(hashed.dir, debian.str() + "/etc/ssl/certs");
  EXPECT_EQ(hashed.file, "");
  EXPECT_NE(hashed.source.find("hashed"), std::string::npos);
}

TEST(TrustStore, EnvironmentWins) {
  Root rhel("env");
  rhel.Put("etc/pki/tls/certs/ca-bundle.crt");
  TrustStore f = find_trust_store(rhel.str(), "/x/ca.pem", nullptr);
  EXPECT_EQ(f.file, "/x/ca.pem");
  EXPECT_EQ(f.source, "SSL_CERT_FILE=/x/ca.pem");
  TrustStore d = find_trust_store(rhel.str(), "", "/x/certs");
  EXPECT_EQ(d.dir, "/x/certs");
  EXPECT_EQ(d.file, "");
  TrustStore both = find_trust_store(rhel.str(), "/x/ca.pem", "/x/certs");
  EXPECT_EQ(both.source, "SSL_CERT_FILE=/x/ca.pem, SSL_CERT_DIR=/x/certs");
}

TEST(TrustStore, NoneFound) {
  Root empty("empty");
  TrustStore s = find_trust_store(empty.str(), nullptr, nullptr);
  EXPECT_EQ(s.file, "");
  EXPECT_EQ(s.dir, "");
}
