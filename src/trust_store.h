// Where this node keeps its system trust store. OpenSSL's compiled-in
// default (/usr/lib/ssl on Debian's build) does not exist on RHEL, Fedora
// or SUSE, so a static binary built on Debian would verify nothing there.
#pragma once

#include <string>

struct TrustStore {
  std::string dir;     // a hashed certificate directory (c_rehash), or ""
  std::string file;    // a PEM bundle, or ""
  std::string source;  // for doctor and logs, e.g. "SSL_CERT_FILE=/x.pem"
};

// In order: $SSL_CERT_FILE and $SSL_CERT_DIR (either or both, as OpenSSL
// reads them); Debian's and Ubuntu's hashed /etc/ssl/certs (read lazily, a
// certificate per issuer looked up); the bundles of RHEL, Fedora and
// CentOS (/etc/pki/tls/certs/ca-bundle.crt,
// /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem), Debian
// (/etc/ssl/certs/ca-certificates.crt), SUSE (/etc/ssl/ca-bundle.pem) and
// Alpine (/etc/ssl/cert.pem). `root` prefixes every fixed path (tests
// use a private one); `env_file`/`env_dir` are the variables' values or
// nullptr. Both fields empty: none found.
TrustStore find_trust_store(const std::string& root, const char* env_file,
                            const char* env_dir);

// find_trust_store for this process: root "/", the real environment.
TrustStore system_trust_store();
