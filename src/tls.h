// Our TLS policy over OpenSSL 3: which servers we trust (CA file, inline CA
// or the system store), who we are (client certificate), TLS 1.2 or later,
// the server's name or address checked, and errors an operator can act on.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "http_error.h"
#include "url.h"

struct TlsConfig {
  // Trust anchors: ca_file and/or ca_pem; both empty: the system defaults.
  std::string ca_file;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Optional client certificate (leaf first, then chain) and key, PEM.
  std::string client_cert_pem;
  std::string client_key_pem;
};

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// The client context for `config`; errors are kConfig. No network access.
HttpResult<SslCtxPtr> make_tls_context(const TlsConfig& config);

// Per connection: SNI (names only) and the name or address the server's
// certificate must be valid for. Errors are kConfig.
HttpResult<Ok> prepare_tls_session(SSL* ssl, const HttpUrl& url,
                                   bool verify_peer);

// Why a handshake on `ssl` failed with OpenSSL error `code`, with a hint
// when there is one ("certificate verify failed: ... (the server
// certificate is not valid for ...)").
std::string describe_handshake_failure(SSL* ssl, unsigned long code,
                                       const HttpUrl& url);

// Why the TLS session failed after the handshake (usually an alert from
// the server), with a hint about the client certificate.
std::string describe_tls_failure(unsigned long code, bool sent_client_cert);
