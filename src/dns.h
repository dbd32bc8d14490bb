// The addresses of the API server's host, found within the deadline.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "http_error.h"
#include "url.h"

// Where the resolver reads its configuration. Empty and 0: the system's
// (/etc/resolv.conf, port 53); tests point them at a server of their own.
struct DnsConfig {
  std::string resolv_conf;
  unsigned short port = 0;
};

// An IP literal needs no lookup. A name is looked up with c-ares, which reads
// /etc/hosts, resolv.conf (servers, search list, ndots) and nsswitch.conf's
// order of files and dns itself: glibc's getaddrinfo would load NSS modules,
// which a static binary cannot do safely on another distribution's glibc.
// The lookup runs on this thread and stops at the deadline. Errors:
// kTimeout, kTransport (no such host, no address, no resolver).
HttpResult<std::vector<boost::asio::ip::tcp::endpoint>> resolve_host(
    const HttpUrl& url, std::chrono::steady_clock::time_point deadline,
    const DnsConfig& config = {});
