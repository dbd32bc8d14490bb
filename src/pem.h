// Certificates and keys from PEM text, read by OpenSSL's PEM readers (which
// skip blocks of other types).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

struct PemBlock {
  std::string label;  // "CERTIFICATE", "PRIVATE KEY", "EC PRIVATE KEY"...
  std::string text;   // the block as OpenSSL writes it, BEGIN through END
};

// Every PEM block of `text`, in order, read by OpenSSL's PEM reader; text
// between blocks is skipped, and reading stops at a damaged block.
std::vector<PemBlock> pem_blocks(std::string_view text);

// Every CERTIFICATE block of `pem`, in order; an error ("no PEM certificate
// found", or OpenSSL's reason for a damaged block) when there is none.
Result<std::vector<X509Ptr>> read_pem_certificates(std::string_view pem);

// The first private key block of `pem`. Encrypted keys are refused: we have
// no passphrase to give.
Result<EvpPkeyPtr> read_pem_private_key(std::string_view pem);

// The subject's common name (CN); empty when there is none.
std::string subject_common_name(X509* cert);
