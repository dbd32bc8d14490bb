// The API server's address: "https://host[:port][/base/path]", nothing else.
#pragma once

#include <string>
#include <string_view>

#include "http_error.h"

// host may be a name, an IPv4 literal or a bracketed IPv6 literal ("[::1]").
struct HttpUrl {
  std::string host;  // without brackets, lower case
  int port = 443;
  std::string base_path;  // "" or "/prefix" without a trailing slash
  bool ip_literal = false;
  bool ipv6 = false;
  // Host header value: host, [v6] bracketed, ":port" unless 443.
  std::string authority() const;
  // "host:port" / "[v6]:port", for messages.
  std::string host_port() const;
};

// Errors are kConfig and start with "invalid server URL".
HttpResult<HttpUrl> parse_https_url(std::string_view url);
