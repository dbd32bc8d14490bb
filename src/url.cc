#include "url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "text.h"

namespace {

// host, an IPv6 literal in brackets.
std::string BracketedHost(const HttpUrl& url) {
  std::string out;
  out.reserve(url.host.size() + 2);
  if (url.ipv6) out.push_back('[');
  out.append(url.host);
  if (url.ipv6) out.push_back(']');
  return out;
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string h = BracketedHost(*this);
  if (port != 443) h.append(":").append(std::to_string(port));
  return h;
}

std::string HttpUrl::host_port() const {
  return BracketedHost(*this).append(":").append(std::to_string(port));
}

HttpResult<HttpUrl> parse_https_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return HttpError{HttpError::Kind::kConfig,
                     "invalid server URL \"" + std::string(url) + "\": " + why};
  };
  std::string_view rest = url;
  constexpr std::string_view kScheme = "https://";
  if (!equals_ignore_case(rest.substr(0, kScheme.size()), kScheme)) {
    if (equals_ignore_case(rest.substr(0, 7), "http://")) {
      return bad("only https:// is supported");
    }
    return bad("expected https://host[:port]");
  }
  rest.remove_prefix(kScheme.size());
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path =
      end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return bad("a query or fragment is not allowed");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return bad("the path has a space or control character");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("user information is not allowed");
  }
  HttpUrl out;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '['");
    out.host = ascii_lower(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ']'");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) {
      return bad("\"" + out.host + "\" is not an IPv6 address");
    }
    out.ip_literal = true;
    out.ipv6 = true;
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':', colon + 1) != std::string_view::npos) {
        return bad("an IPv6 address must be in brackets: https://[addr]:port");
      }
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    out.host = ascii_lower(authority.substr(0, colon));
    if (out.host.empty()) return bad("no host");
    for (char c : out.host) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_')) {
        return bad("invalid character in host");
      }
    }
    in_addr a4;
    out.ip_literal = inet_pton(AF_INET, out.host.c_str(), &a4) == 1;
  }
  if (!port.empty()) {
    unsigned long long p = 0;
    if (!parse_decimal(port, &p) || p == 0 || p > 65535) {
      return bad("invalid port");
    }
    out.port = static_cast<int>(p);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_path = std::string(path);
  return out;
}
