// The addresses of the API server's host, found within the deadline.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <vector>

#include "http_error.h"
#include "url.h"

// An IP literal needs no lookup. A name is looked up with getaddrinfo on a
// detached thread that is abandoned when the deadline passes: Asio's own
// resolver runs getaddrinfo on a thread it joins, which no deadline can
// interrupt. Errors: kTimeout, kTransport (no such host, no address).
HttpResult<std::vector<boost::asio::ip::tcp::endpoint>> resolve_host(
    const HttpUrl& url, std::chrono::steady_clock::time_point deadline);
