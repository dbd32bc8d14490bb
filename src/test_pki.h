// Test-only: a throwaway PKI generated at start-up (a CA, server and client
// certificates, an unrelated CA), for the tests that speak TLS or read
// certificates (tls_test_server.h, pem_test, cluster_test).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace tls_test_server {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

struct Cert {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string cert_pem;
  std::string key_pem;
};

struct CertSpec {
  std::string cn;
  std::string san;  // "IP:127.0.0.1,DNS:localhost"; empty: none
  bool ca = false;
  bool client = false;
};

inline void AddExt(X509* x, X509V3_CTX* ctx, int nid,
                   const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

inline std::string ToPem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

inline std::string ToPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// A P-256 certificate, self-signed when `issuer` is null.
inline Cert MakeCert(const CertSpec& spec, const Cert* issuer) {
  static int serial = 1;
  Cert c;
  c.key.reset(EVP_EC_gen("P-256"), PkeyFree());
  c.cert.reset(X509_new(), X509Free());
  X509* x = c.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, c.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
  if (spec.ca) {
    AddExt(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(x, &ctx, NID_key_usage, "critical,digitalSignature");
    AddExt(x, &ctx, NID_ext_key_usage,
           spec.client ? "clientAuth" : "serverAuth");
  }
  if (!spec.san.empty()) AddExt(x, &ctx, NID_subject_alt_name, spec.san);
  X509_sign(x, issuer ? issuer->key.get() : c.key.get(), EVP_sha256());
  c.cert_pem = ToPem(x);
  c.key_pem = ToPem(c.key.get());
  return c;
}

struct Pki {
  Cert ca = MakeCert({"test-ca", "", true}, nullptr);
  Cert other_ca = MakeCert({"other-ca", "", true}, nullptr);
  Cert server = MakeCert({"server", "IP:127.0.0.1,IP:::1,DNS:localhost"}, &ca);
  Cert wrong_name = MakeCert({"server", "DNS:api.other.example"}, &ca);
  Cert client_ca = MakeCert({"client-ca", "", true}, nullptr);
  Cert client = MakeCert({"system:node:node1", "", false, true}, &client_ca);
};

inline const Pki& TestPki() {
  static const Pki* pki = new Pki();
  return *pki;
}

}  // namespace tls_test_server
