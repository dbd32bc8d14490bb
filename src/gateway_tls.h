// The gateway's own TLS identity on loopback: a self-signed certificate for
// 127.0.0.1, ::1 and localhost, made on first start and kept root-only.
// hosts.toml's `ca` names the certificate, so containerd talks only to the
// gateway that holds the key, and nothing on the node's loopback can read
// or replace what they exchange.
#pragma once

#include <string>

#include "result.h"

// Creates `key_path` (EC P-256, mode 0600) and `cert_path` (mode 0644) when
// either is missing; keeps existing ones. Parent directories are created
// with mode 0755 (the certificate is public).
Result<Ok> ensure_gateway_certificate(const std::string& cert_path,
                                      const std::string& key_path);
