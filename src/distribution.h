// The pieces of the OCI distribution API (and of HTTP authentication) the
// mirror gateway needs, as pure functions: which object a request asks for,
// the Basic credential it carries, a registry's challenge, and where a
// redirect points.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "result.h"
#include "ticket.h"

struct RegistryRoute {
  enum class Kind { kBase, kManifest, kBlob };
  Kind kind = Kind::kBase;
  std::string repository;  // "library/nginx"; empty for kBase
  std::string reference;   // tag or "algo:hex" digest
  bool by_digest = false;
  // containerd's "?ns=<registry>" (the registry the image names), or "".
  std::string ns;
};

// Parses a request target: "/v2/", "/v2/<name>/manifests/<tag|digest>" or
// "/v2/<name>/blobs/<digest>", with an optional query of which only `ns` is
// read. Repository components, tags and digests must follow the reference
// grammar, so what comes out is safe to log and to put in an upstream URL.
Result<RegistryRoute> parse_registry_target(std::string_view target);

// The credential of an "Authorization: Basic <base64(user:password)>"
// header; nullopt for anything else.
std::optional<TicketCredential> parse_basic_authorization(
    std::string_view header);

// "Basic <base64(user:password)>".
std::string basic_authorization(std::string_view user,
                                std::string_view password);

// The first challenge of a WWW-Authenticate header (RFC 7235):
// scheme lower-cased, parameter names lower-cased, quoted values unescaped.
struct AuthChallenge {
  std::string scheme;  // "basic", "bearer"
  std::map<std::string, std::string> params;
};
std::optional<AuthChallenge> parse_challenge(std::string_view header);

// An absolute https URL split into what a client connects to and sends.
struct Location {
  std::string scheme;  // "https" or "http"
  std::string host;    // without brackets
  int port = 443;
  std::string target;  // "/path?query", at least "/"
  // "host:port", the key an Authorization header is bound to.
  std::string origin() const;
};
// `location` may be absolute or relative to `base` (RFC 3986 reference
// forms a registry uses: "https://...", "//host/...", "/path").
Result<Location> resolve_location(const Location& base,
                                  std::string_view location);

// application/x-www-form-urlencoded value encoding for a query.
std::string query_escape(std::string_view value);
