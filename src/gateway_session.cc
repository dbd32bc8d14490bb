#include "gateway_session.h"

#include <openssl/crypto.h>

#include "distribution.h"
#include "sha256.h"

namespace {

// Why the pull of `s` is over at `now`, or nullptr while it lasts.
const char* Ended(const GatewaySession& s, const SessionLimits& limits,
                  SteadyClock::time_point now) {
  if (s.active == 0 && now - s.last_seen > limits.idle) return "idle";
  if (now - s.redeemed > limits.max) return "max-age";
  return nullptr;
}

void LogEnd(const Logger& log, const GatewaySession& s, const char* reason) {
  log.info("event=session-end " + session_names(s) + " reason=" + reason +
           " requests=" + std::to_string(s.requests));
}

}  // namespace

std::string session_names(const GatewaySession& s) {
  return "ticket=" + s.ticket.id + " ns=" + s.ticket.ns +
         " image=" + s.ticket.image;
}

std::shared_ptr<GatewaySession> authorize_request(
    GatewaySessions& sessions, const SessionLimits& limits,
    const std::string& ticket_dir, std::string_view authorization,
    SteadyClock::time_point now, std::chrono::system_clock::time_point wall,
    const Logger& log, std::string& why) {
  if (authorization.empty()) {
    why = "no credential";
    return nullptr;
  }
  auto credential = parse_basic_authorization(authorization);
  if (!credential) {
    why = "not a Basic credential";
    return nullptr;
  }
  if (!is_ticket_id(credential->username)) {
    // Never forwarded and never logged: it is a tenant's registry secret.
    why = "a credential that is not a ticket";
    return nullptr;
  }
  if (auto it = sessions.find(credential->username); it != sessions.end()) {
    GatewaySession& s = *it->second;
    std::string presented = sha256_hex(credential->password);
    if (presented.size() != s.ticket.secret_sha256.size() ||
        CRYPTO_memcmp(presented.data(), s.ticket.secret_sha256.data(),
                      presented.size()) != 0) {
      why = "wrong ticket secret";
      return nullptr;
    }
    if (const char* reason = Ended(s, limits, now)) {
      why = "the ticket's pull is over";
      LogEnd(log, s, reason);
      sessions.erase(it);
      return nullptr;
    }
    s.last_seen = now;
    return it->second;
  }
  auto ticket = redeem_ticket(ticket_dir, *credential, wall);
  if (!ticket) {
    why = ticket.error().message;
    return nullptr;
  }
  auto image = parse_named(ticket->image);
  if (!image) {
    why = "the ticket names an invalid image";
    return nullptr;
  }
  auto s = std::make_shared<GatewaySession>();
  s->ticket = std::move(*ticket);
  s->image = std::move(*image);
  s->redeemed = s->last_seen = now;
  s->upstream_auth.resize(s->ticket.sources.size());
  sessions[s->ticket.id] = s;
  log.info("event=redeem " + session_names(*s) +
           " sources=" + std::to_string(s->ticket.sources.size()));
  return s;
}

void end_quiet_sessions(GatewaySessions& sessions, const SessionLimits& limits,
                        SteadyClock::time_point now, const Logger& log) {
  for (auto it = sessions.begin(); it != sessions.end();) {
    const GatewaySession& s = *it->second;
    const char* reason = s.active == 0 ? Ended(s, limits, now) : nullptr;
    if (reason) {
      LogEnd(log, s, reason);
      it = sessions.erase(it);
    } else {
      ++it;
    }
  }
}
