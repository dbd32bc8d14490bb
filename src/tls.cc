#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>

#include "file.h"
#include "openssl_error.h"
#include "pem.h"
#include "trust_store.h"

namespace {

using Kind = HttpError::Kind;

constexpr std::size_t kMaxCaFileBytes = 8u << 20;

HttpError ConfigError(std::string message) {
  return HttpError{Kind::kConfig, std::move(message)};
}

// Adds every certificate of a PEM bundle to `store`.
HttpResult<Ok> AddPemCerts(X509_STORE* store, std::string_view pem,
                           const std::string& what) {
  auto certs = read_pem_certificates(pem);
  if (!certs) return ConfigError(what + ": " + certs.error().message);
  for (const X509Ptr& cert : *certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      return ConfigError(what + ": cannot add certificate: " + openssl_error());
    }
  }
  return Ok{};
}

HttpResult<Ok> UseClientIdentity(SSL_CTX* ctx, const TlsConfig& c) {
  if (c.client_cert_pem.empty() && c.client_key_pem.empty()) return Ok{};
  if (c.client_cert_pem.empty() || c.client_key_pem.empty()) {
    return ConfigError(
        "client certificate and client key must be given together");
  }
  auto certs = read_pem_certificates(c.client_cert_pem);
  if (!certs) {
    return ConfigError("client certificate: " + certs.error().message);
  }
  for (std::size_t i = 0; i < certs->size(); ++i) {
    X509* cert = (*certs)[i].get();
    int ok = i == 0 ? SSL_CTX_use_certificate(ctx, cert)
                    : SSL_CTX_add1_chain_cert(ctx, cert);
    if (ok != 1) {
      return ConfigError("cannot use client certificate: " + openssl_error());
    }
  }
  auto key = read_pem_private_key(c.client_key_pem);
  if (!key) {
    return ConfigError("client key: cannot read PEM private key (" +
                       key.error().message + ")");
  }
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key->get()) != 1) {
    ERR_clear_error();
    return ConfigError("client key does not match the client certificate");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1) {
    return ConfigError("cannot use client key: " + openssl_error());
  }
  return Ok{};
}

// The system trust store, wherever this distribution keeps it
// (trust_store.h). A hashed directory is read lazily, one certificate per
// issuer looked up; a bundle is parsed whole (about 140 certificates, tens
// of milliseconds), so the directory goes first where there is one.
HttpResult<Ok> UseSystemTrustStore(SSL_CTX* ctx) {
  TrustStore store = system_trust_store();
  if (!store.dir.empty() &&
      SSL_CTX_load_verify_dir(ctx, store.dir.c_str()) != 1) {
    return ConfigError("cannot load the system trust store " + store.source +
                       ": " + openssl_error() + ": pass --ca-file");
  }
  if (!store.file.empty() &&
      SSL_CTX_load_verify_file(ctx, store.file.c_str()) != 1) {
    return ConfigError("cannot load the system trust store " + store.source +
                       ": " + openssl_error() + ": pass --ca-file");
  }
  if (store.dir.empty() && store.file.empty() &&
      SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return ConfigError("cannot load the system trust store: " +
                       openssl_error() + ": pass --ca-file");
  }
  return Ok{};
}

}  // namespace

HttpResult<SslCtxPtr> make_tls_context(const TlsConfig& config) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return ConfigError("cannot create TLS context: " + openssl_error());
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Framing comes from HTTP; a missing close_notify is a plain EOF.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF |
                                     SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_NO_COMPRESSION);
  if (config.insecure_skip_tls_verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    if (!config.ca_file.empty()) {
      auto pem = read_file(config.ca_file, kMaxCaFileBytes);
      if (!pem) {
        return ConfigError("cannot read CA file " + config.ca_file + ": " +
                           pem.error().message);
      }
      auto added = AddPemCerts(store, *pem, "CA file " + config.ca_file);
      if (!added) return added.error();
    }
    if (!config.ca_pem.empty()) {
      auto added = AddPemCerts(store, config.ca_pem, "CA data");
      if (!added) return added.error();
    }
    if (config.ca_file.empty() && config.ca_pem.empty()) {
      auto loaded = UseSystemTrustStore(ctx.get());
      if (!loaded) return loaded.error();
    }
  }
  auto identity = UseClientIdentity(ctx.get(), config);
  if (!identity) return identity.error();
  return ctx;
}

HttpResult<Ok> prepare_tls_session(SSL* ssl, const HttpUrl& url,
                                   bool verify_peer) {
  if (!url.ip_literal) {
    // SNI carries names only (RFC 6066).
    SSL_set_tlsext_host_name(ssl, url.host.c_str());
  }
  if (!verify_peer) return Ok{};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = url.ip_literal
               ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
               : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
  if (ok != 1) {
    return ConfigError("cannot verify against host \"" + url.host +
                       "\": " + openssl_error());
  }
  return Ok{};
}

std::string describe_handshake_failure(SSL* ssl, unsigned long code,
                                       const HttpUrl& url) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    std::string why = std::string("certificate verify failed: ") +
                      X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH ||
        verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      why += " (the server certificate is not valid for " + url.host + ")";
    }
    return why;
  }
  std::string why = openssl_reason(code);
  if (why == "wrong version number" || why == "packet length too long") {
    why += " (is the server speaking plain HTTP?)";
  }
  return why;
}

std::string describe_tls_failure(unsigned long code, bool sent_client_cert) {
  std::string why = openssl_reason(code);
  if (why.find("certificate required") != std::string::npos) {
    why += " (the server requires a client certificate)";
  } else if (why.find("alert") != std::string::npos &&
             (why.find("certificate") != std::string::npos ||
              why.find("unknown ca") != std::string::npos) &&
             sent_client_cert) {
    why += " (the server rejected the client certificate)";
  }
  return why;
}
