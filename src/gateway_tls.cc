#include "gateway_tls.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Writes `pem` to a temporary file with `mode` and renames it into place.
Result<Ok> WriteFile(const std::string& path, const std::string& pem,
                     mode_t mode) {
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return Error{"cannot write \"" + temp + "\": " + std::strerror(errno)};
  bool ok =
      ::fchmod(fd, mode) == 0 &&
      ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) &&
      ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Error{"cannot write \"" + path + "\": " + std::strerror(errno)};
  }
  return Ok{};
}

template <class F>
Result<std::string> ToPem(F write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) return Error{"cannot encode PEM"};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

}  // namespace

Result<Ok> ensure_gateway_certificate(const std::string& cert_path,
                                      const std::string& key_path) {
  struct stat st;
  if (::stat(cert_path.c_str(), &st) == 0 && ::stat(key_path.c_str(), &st) == 0)
    return Ok{};
  std::error_code ec;
  for (const std::string& p : {cert_path, key_path}) {
    auto parent = std::filesystem::path(p).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  KeyPtr key(EVP_EC_gen("P-256"));
  CertPtr cert(X509_new());
  if (!key || !cert) return Error{"cannot generate the gateway's key"};
  unsigned char serial[16];
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  bool random = fd >= 0 && ::read(fd, serial, sizeof serial) ==
                               static_cast<ssize_t>(sizeof serial);
  if (fd >= 0) ::close(fd);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  bool ok =
      random && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(cert.get());
  ok = ok && X509_set_version(cert.get(), 2) &&
       X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) &&
       // Ten years: the key never leaves the node; rotate by deleting both
       // files and restarting the gateway.
       X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400) &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>(
                                      "crio-credential-provider gateway"),
                                  -1, -1, 0) &&
       X509_set_issuer_name(cert.get(), name) &&
       X509_set_pubkey(cert.get(), key.get()) &&
       AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") &&
       AddExtension(cert.get(), NID_key_usage,
                    "critical,digitalSignature,keyCertSign") &&
       AddExtension(cert.get(), NID_ext_key_usage, "serverAuth") &&
       AddExtension(cert.get(), NID_subject_alt_name,
                    "IP:127.0.0.1,IP:::1,DNS:localhost") &&
       AddExtension(cert.get(), NID_subject_key_identifier, "hash") &&
       X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) return Error{"cannot make the gateway's certificate"};
  auto key_pem = ToPem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr,
                                    nullptr) == 1;
  });
  auto cert_pem =
      ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()) == 1; });
  if (!key_pem || !cert_pem) return Error{"cannot encode the gateway's key"};
  if (auto w = WriteFile(key_path, *key_pem, 0600); !w) return w.error();
  return WriteFile(cert_path, *cert_pem, 0644);
}
