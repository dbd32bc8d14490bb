// The gateway's pulls in progress: a ticket is redeemed (its file removed)
// on the first request that presents it and then serves that one pull, for
// its image only, until the pull goes quiet (--pull-idle) or grows old
// (--pull-max). No network here: the request handler asks, this answers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "log.h"
#include "reference.h"
#include "ticket.h"

using SteadyClock = std::chrono::steady_clock;

struct GatewaySession {
  Ticket ticket;
  Reference image;
  SteadyClock::time_point redeemed, last_seen;
  int active = 0;      // requests in flight
  int preferred = -1;  // the source that served the last manifest
  // Per source: the Authorization the source accepted (Basic, or a Bearer
  // token from its token service), reused for the rest of the pull.
  std::vector<std::string> upstream_auth;
  int requests = 0;
};

struct SessionLimits {
  std::chrono::nanoseconds idle;  // --pull-idle
  std::chrono::nanoseconds max;   // --pull-max
};

// Shared pointers: a request in flight keeps its session alive even when
// the table ends it meanwhile.
using GatewaySessions =
    std::unordered_map<std::string, std::shared_ptr<GatewaySession>>;

// "ticket=<id> ns=<namespace> image=<name>": names only, for log lines.
std::string session_names(const GatewaySession& session);

// The session of an Authorization header: a live one whose secret matches,
// or a ticket redeemed now from `ticket_dir`. Null with `why` (no secret in
// it) when refused: no or non-Basic credential, a user name that is not a
// ticket (the pod's own registry secret, which kubelet offers first), a
// wrong secret, an expired or unknown ticket, a pull that is over.
std::shared_ptr<GatewaySession> authorize_request(
    GatewaySessions& sessions, const SessionLimits& limits,
    const std::string& ticket_dir, std::string_view authorization,
    SteadyClock::time_point now, std::chrono::system_clock::time_point wall,
    const Logger& log, std::string& why);

// Ends the pulls that went quiet or grew old and have nothing in flight.
void end_quiet_sessions(GatewaySessions& sessions, const SessionLimits& limits,
                        SteadyClock::time_point now, const Logger& log);
