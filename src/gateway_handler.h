// One request of containerd to the gateway: who presents which ticket, for
// which object, and from which of the ticket's sources it is streamed back.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <cstdint>
#include <vector>

#include "gateway_session.h"
#include "gateway_upstream.h"
#include "log.h"
#include "options.h"

// What every connection of one gateway shares (one thread serves them all).
struct GatewayCore {
  const GatewayOptions& options;
  Logger log;
  SessionLimits limits;
  GatewaySessions sessions;
  UpstreamClient upstream;
  bool draining = false;  // answers close their connection
  uint64_t next_request = 0;

  explicit GatewayCore(const GatewayOptions& o)
      : options(o),
        log(o.log_level, /*to_syslog=*/false),
        limits{o.pull_idle, o.pull_max} {
    upstream.io_timeout = o.io_timeout;
  }
};

using GatewayRequest =
    boost::beast::http::request<boost::beast::http::empty_body>;

// Answers `req` on `down` (TLS from containerd), streaming a source's
// answer through `relay` (the connection's one buffer). True when the
// connection may carry another request.
Task<bool> handle_request(GatewayCore& core, TlsStream& down,
                          const GatewayRequest& req, std::vector<char>& relay);
