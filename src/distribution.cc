#include "distribution.h"

#include <cctype>

#include "base64.h"
#include "text.h"
#include "url.h"

namespace {

bool IsAlnumascii_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// path-component = [a-z0-9]+ (separator [a-z0-9]+)*, separator = [_.] | "__"
// | "-"+ (the distribution reference grammar).
bool IsPathComponent(std::string_view c) {
  if (c.empty() || !IsAlnumascii_lower(c.front()) ||
      !IsAlnumascii_lower(c.back()))
    return false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (IsAlnumascii_lower(ch) || ch == '-') continue;
    if (ch == '.' || ch == '_') {
      // "." and "_" separate alphanumerics; "__" is allowed as one separator.
      if (ch == '_' && i + 1 < c.size() && c[i + 1] == '_') ++i;
      if (i + 1 >= c.size() || !IsAlnumascii_lower(c[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool IsRepository(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    if (!IsPathComponent(name.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool IsTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    bool word = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

bool IsDigest(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0 || d.size() > 200)
    return false;
  for (char c : d.substr(0, colon))
    if (!IsAlnumascii_lower(c) && c != '+' && c != '.' && c != '_' && c != '-')
      return false;
  std::string_view hex = d.substr(colon + 1);
  if (hex.size() < 32) return false;
  for (char c : hex)
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c)))
      return false;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> QueryUnescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '+') {
      out += ' ';
    } else if (v[i] == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      int hi = HexValue(v[i + 1]), lo = HexValue(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

}  // namespace

Result<RegistryRoute> parse_registry_target(std::string_view target) {
  RegistryRoute route;
  std::string_view path = target, query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (pair.starts_with("ns=")) {
      auto ns = QueryUnescape(pair.substr(3));
      if (!ns || ns->empty() || ns->size() > 255) return Error{"invalid ns"};
      for (char c : *ns)
        if (!IsAlnumascii_lower(c) && c != '.' && c != '-' && c != ':')
          return Error{"invalid ns"};
      route.ns = *ns;
    }
  }
  if (path == "/v2/" || path == "/v2") return route;
  if (!path.starts_with("/v2/")) return Error{"not a registry API path"};
  path.remove_prefix(4);
  for (auto [marker, kind] :
       {std::pair{std::string_view("/manifests/"),
                  RegistryRoute::Kind::kManifest},
        std::pair{std::string_view("/blobs/"), RegistryRoute::Kind::kBlob}}) {
    size_t at = path.rfind(marker);
    if (at == std::string_view::npos) continue;
    std::string_view name = path.substr(0, at);
    std::string_view ref = path.substr(at + marker.size());
    if (!IsRepository(name)) return Error{"invalid repository name"};
    route.kind = kind;
    route.repository = std::string(name);
    route.reference = std::string(ref);
    route.by_digest = IsDigest(ref);
    if (!route.by_digest && (kind == RegistryRoute::Kind::kBlob || !IsTag(ref)))
      return Error{"invalid tag or digest"};
    return route;
  }
  return Error{"not a manifest or blob path"};
}

std::optional<TicketCredential> parse_basic_authorization(
    std::string_view header) {
  if (header.size() < 6 || ascii_lower(header.substr(0, 6)) != "basic ")
    return std::nullopt;
  std::string_view encoded = header.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  auto decoded = base64_decode(encoded);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return TicketCredential{decoded->substr(0, colon),
                          decoded->substr(colon + 1)};
}

std::string basic_authorization(std::string_view user,
                                std::string_view password) {
  return "Basic " +
         base64_encode(std::string(user) + ":" + std::string(password));
}

std::optional<AuthChallenge> parse_challenge(std::string_view h) {
  auto skip_space = [&] {
    while (!h.empty() && (h.front() == ' ' || h.front() == '\t'))
      h.remove_prefix(1);
  };
  auto token = [&] {
    size_t n = 0;
    while (n < h.size() && h[n] != ' ' && h[n] != '\t' && h[n] != '=' &&
           h[n] != ',' && h[n] != '"')
      ++n;
    std::string out(h.substr(0, n));
    h.remove_prefix(n);
    return out;
  };
  skip_space();
  AuthChallenge c;
  c.scheme = ascii_lower(token());
  if (c.scheme.empty()) return std::nullopt;
  while (true) {
    skip_space();
    while (!h.empty() && h.front() == ',') {
      h.remove_prefix(1);
      skip_space();
    }
    if (h.empty()) break;
    std::string name = ascii_lower(token());
    skip_space();
    if (name.empty() || h.empty() || h.front() != '=') break;  // next scheme
    h.remove_prefix(1);
    skip_space();
    std::string value;
    if (!h.empty() && h.front() == '"') {
      h.remove_prefix(1);
      while (!h.empty() && h.front() != '"') {
        if (h.front() == '\\' && h.size() > 1) h.remove_prefix(1);
        value += h.front();
        h.remove_prefix(1);
      }
      if (h.empty()) return std::nullopt;  // unterminated
      h.remove_prefix(1);
    } else {
      value = token();
    }
    c.params[name] = value;
  }
  return c;
}

std::string Location::origin() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

Result<Location> resolve_location(const Location& base,
                                  std::string_view location) {
  if (location.empty()) return Error{"empty Location"};
  for (char c : location)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return Error{"Location has a space or control character"};
  if (location.starts_with("/") && !location.starts_with("//")) {
    Location out = base;
    out.target = std::string(location);
    return out;
  }
  std::string absolute(location);
  if (location.starts_with("//")) absolute = base.scheme + ":" + absolute;
  std::string lower = ascii_lower(absolute.substr(0, 8));
  Location out;
  size_t rest;
  if (lower.starts_with("https://")) {
    out.scheme = "https";
    rest = 8;
  } else if (lower.starts_with("http://")) {
    out.scheme = "http";
    rest = 7;
  } else {
    return Error{"Location is neither absolute http(s) nor a path"};
  }
  size_t slash = absolute.find_first_of("/?#", rest);
  std::string authority = absolute.substr(rest, slash - rest);
  auto url = parse_https_url("https://" + authority);
  if (!url) return Error{"Location has an invalid host"};
  out.host = url->host;
  bool has_port = authority.starts_with("[")
                      ? authority.find("]:") != std::string::npos
                      : authority.find(':') != std::string::npos;
  out.port = has_port ? url->port : (out.scheme == "https" ? 443 : 80);
  out.target = slash == std::string::npos ? "/" : absolute.substr(slash);
  if (size_t hash = out.target.find('#'); hash != std::string::npos)
    out.target.resize(hash);
  if (out.target.empty() || out.target.front() != '/')
    out.target = "/" + out.target;
  return out;
}

std::string query_escape(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}
