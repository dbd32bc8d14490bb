#include "pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "openssl_error.h"

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

int NoPassword(char*, int, int, void*) { return 0; }

// Whether the end of the PEM text was reached, as opposed to a damaged
// block: OpenSSL reports the end as "no start line".
bool AtEnd() {
  unsigned long e = ERR_peek_last_error();
  return e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
                    ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

}  // namespace

std::vector<PemBlock> pem_blocks(std::string_view text) {
  std::vector<PemBlock> out;
  BioPtr in = MemBio(text);
  if (!in) return out;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(in.get(), &name, &header, &data, &len) != 1) break;
    BioPtr block(BIO_new(BIO_s_mem()));
    if (block && PEM_write_bio(block.get(), name, header, data, len) > 0) {
      char* written = nullptr;
      long n = BIO_get_mem_data(block.get(), &written);
      out.push_back(
          PemBlock{name, std::string(written, static_cast<std::size_t>(n))});
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  ERR_clear_error();  // the end of the text reads as "no start line"
  return out;
}

Result<std::vector<X509Ptr>> read_pem_certificates(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return Error{"out of memory"};
  std::vector<X509Ptr> out;
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  if (!AtEnd()) return Error{openssl_error()};
  ERR_clear_error();
  if (out.empty()) return Error{"no PEM certificate found"};
  return out;
}

Result<EvpPkeyPtr> read_pem_private_key(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return Error{"out of memory"};
  ERR_clear_error();
  EVP_PKEY* key =
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr);
  if (key == nullptr) {
    if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") !=
            std::string_view::npos ||
        pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
      ERR_clear_error();
      return Error{"the private key is encrypted, which is not supported"};
    }
    // OpenSSL 3's key decoder reports the blocks it could not use, not the
    // absence of a key block.
    if (pem.find("PRIVATE KEY-----") == std::string_view::npos) {
      ERR_clear_error();
      return Error{"no PEM private key found"};
    }
    return Error{openssl_error()};
  }
  return EvpPkeyPtr(key);
}

std::string subject_common_name(X509* cert) {
  char cn[256] = "";
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                sizeof cn) < 0) {
    ERR_clear_error();
    return "";
  }
  return cn;
}
