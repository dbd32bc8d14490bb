#include "gateway_handler.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "distribution.h"

// GCC 12 reports Asio's coroutine-frame operator delete(void*, size_t) in
// handle_request as mismatched with the frame's operator new; both are
// awaitable_frame_base's own (Asio's recycling allocator). The e2e suite's
// 100 concurrent pulls run this coroutine.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

auto Use(beast::error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string Ms(Clock::time_point since) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            Clock::now() - since)
                            .count());
}

// The distribution API's error body; `code` and `message` are ours.
std::string ErrorBody(std::string_view code, std::string_view message) {
  return "{\"errors\":[{\"code\":\"" + std::string(code) + "\",\"message\":\"" +
         std::string(message) + "\"}]}";
}

Clock::time_point DownstreamDeadline(const GatewayCore& core) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(core.options.io_timeout);
}

Task<bool> Reply(GatewayCore& core, TlsStream& down, const GatewayRequest& req,
                 http::status status, const std::string& body,
                 bool challenge = false) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.set("Docker-Distribution-API-Version", "registry/2.0");
  if (challenge)
    res.set(http::field::www_authenticate,
            "Basic realm=\"crio-credential-provider\"");
  bool keep = req.keep_alive() && !core.draining;
  res.keep_alive(keep);
  bool head = req.method() == http::verb::head;
  if (!head) res.body() = body;
  res.prepare_payload();
  if (head) res.content_length(body.size());
  beast::error_code ec;
  beast::get_lowest_layer(down).expires_at(DownstreamDeadline(core));
  if (head) {
    http::response_serializer<http::string_body> sr{res};
    co_await http::async_write_header(down, sr, Use(ec));
  } else {
    co_await http::async_write(down, res, Use(ec));
  }
  co_return !ec && keep;
}

// Streams the source's answer to containerd through one fixed buffer: a
// slow or stuck side loses the connection at its step's deadline.
Task<bool> Relay(GatewayCore& core, TlsStream& down, const GatewayRequest& req,
                 UpstreamResponse& up, std::vector<char>& buffer,
                 uint64_t& bytes) {
  bool keep = req.keep_alive() && !core.draining;
  const auto& head = up.parser.get();
  http::response<http::buffer_body> res{head.result(), 11};
  for (auto f : {http::field::content_type, http::field::content_range,
                 http::field::accept_ranges, http::field::etag,
                 http::field::last_modified})
    if (auto it = head.find(f); it != head.end()) res.set(f, it->value());
  if (auto it = head.find("Docker-Content-Digest"); it != head.end())
    res.set("Docker-Content-Digest", it->value());
  res.set("Docker-Distribution-API-Version", "registry/2.0");
  res.keep_alive(keep);
  beast::error_code ec;
  auto& lowest = beast::get_lowest_layer(down);
  res.body().data = nullptr;
  if (req.method() == http::verb::head) {
    if (auto it = head.find(http::field::content_length); it != head.end())
      res.set(http::field::content_length, it->value());
    res.body().more = false;
    http::response_serializer<http::buffer_body> sr{res};
    lowest.expires_at(DownstreamDeadline(core));
    co_await http::async_write_header(down, sr, Use(ec));
    co_return !ec && keep;
  }
  if (auto length = up.parser.content_length())
    res.content_length(*length);
  else
    res.chunked(true);
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  lowest.expires_at(DownstreamDeadline(core));
  co_await http::async_write_header(down, sr, Use(ec));
  if (ec) co_return false;
  auto& upstream_lowest = beast::get_lowest_layer(up.stream);
  do {
    size_t got = 0;
    if (!up.parser.is_done()) {
      up.parser.get().body().data = buffer.data();
      up.parser.get().body().size = buffer.size();
      upstream_lowest.expires_at(step_deadline(core.upstream, up.limit));
      co_await http::async_read(up.stream, up.buffer, up.parser, Use(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return false;  // cut short: containerd sees a short body
      got = buffer.size() - up.parser.get().body().size;
    }
    res.body().data = got ? buffer.data() : nullptr;
    res.body().size = got;
    res.body().more = !up.parser.is_done();
    lowest.expires_at(DownstreamDeadline(core));
    co_await http::async_write(down, sr, Use(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return false;
    bytes += got;
  } while (!sr.is_done());
  co_return keep;
}

// A request in flight keeps its pull alive (the sweep spares it) and marks
// the pull's last activity when it ends.
class InFlight {
 public:
  explicit InFlight(GatewaySession& s) : s_(s) {
    ++s_.active;
    ++s_.requests;
  }
  ~InFlight() {
    --s_.active;
    s_.last_seen = Clock::now();
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  GatewaySession& s_;
};

// The sources that may serve this object, the one that served the pull's
// manifest first for a blob (containers/image's pull-source rules: a
// digest-only mirror never serves a tag).
std::vector<size_t> SourceOrder(const GatewaySession& s, bool manifest,
                                bool by_digest) {
  std::vector<size_t> order;
  if (!manifest && s.preferred >= 0) order.push_back(s.preferred);
  for (size_t i = 0; i < s.ticket.sources.size(); ++i) {
    const TicketSource& src = s.ticket.sources[i];
    bool allowed = manifest ? (by_digest ? src.digests : src.tags)
                            : (src.digests || src.tags);
    if (allowed && (order.empty() || order.front() != i)) order.push_back(i);
  }
  return order;
}

}  // namespace

Task<bool> handle_request(GatewayCore& core, TlsStream& down,
                          const GatewayRequest& req, std::vector<char>& relay) {
  auto start = Clock::now();
  std::string id = "req=" + std::to_string(++core.next_request);
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    core.log.info("event=refused " + id + " reason=method");
    co_return co_await Reply(core, down, req, http::status::method_not_allowed,
                             ErrorBody("UNSUPPORTED", "pull only"));
  }
  auto route = parse_registry_target(Sv(req.target()));
  if (!route) {
    core.log.info("event=refused " + id + " reason=target");
    co_return co_await Reply(
        core, down, req, http::status::not_found,
        ErrorBody("NAME_INVALID", "not a pull of the distribution API"));
  }
  std::string why;
  auto header = req.find(http::field::authorization);
  auto session = authorize_request(
      core.sessions, core.limits, core.options.ticket_dir,
      header == req.end() ? std::string_view() : Sv(header->value()), start,
      std::chrono::system_clock::now(), core.log, why);
  if (!session) {
    core.log.log(why == "no credential" ? LogLevel::kDebug : LogLevel::kInfo,
                 "event=unauthorized " + id + " reason=" + log_value(why));
    co_return co_await Reply(core, down, req, http::status::unauthorized,
                             ErrorBody("UNAUTHORIZED", "a ticket is required"),
                             true);
  }
  GatewaySession& s = *session;
  std::string who = session_names(s);
  if (route->kind == RegistryRoute::Kind::kBase)
    co_return co_await Reply(core, down, req, http::status::ok, "{}");
  if (route->repository != s.image.path ||
      (!route->ns.empty() && route->ns != s.image.domain)) {
    core.log.warn("event=denied " + id + " " + who + " requested=" + route->ns +
                  "/" + route->repository);
    co_return co_await Reply(
        core, down, req, http::status::forbidden,
        ErrorBody("DENIED", "the ticket is for another image"));
  }
  bool manifest = route->kind == RegistryRoute::Kind::kManifest;
  std::string suffix =
      (manifest ? "/manifests/" : "/blobs/") + route->reference;
  HttpHeaders forwarded;
  for (auto field : {http::field::accept, http::field::range})
    for (auto [it, end] = req.equal_range(field); it != end; ++it)
      forwarded.emplace_back(field, std::string(Sv(it->value())));
  auto limit =
      s.redeemed + std::chrono::duration_cast<Clock::duration>(core.limits.max);
  InFlight in_flight(s);
  bool not_found = false;
  for (size_t index : SourceOrder(s, manifest, route->by_digest)) {
    const std::string& source = s.ticket.sources[index].repository;
    std::string failure;
    auto up = co_await fetch_from_source(core.upstream, s.ticket.sources[index],
                                         s.upstream_auth[index], req.method(),
                                         suffix, forwarded, limit, failure);
    if (!up) {
      core.log.warn("event=source-failed " + id + " " + who +
                    " source=" + source + " reason=" + log_value(failure));
      continue;
    }
    int status = up->status();
    if (status == 200 || status == 206 || status == 416) {
      if (manifest) s.preferred = static_cast<int>(index);
      uint64_t bytes = 0;
      bool keep = co_await Relay(core, down, req, *up, relay, bytes);
      core.log.info("event=served " + id + " " + who +
                    " method=" + std::string(req.method_string()) +
                    (manifest ? " manifest=" : " blob=") + route->reference +
                    " source=" + source + " status=" + std::to_string(status) +
                    " bytes=" + std::to_string(bytes) + " ms=" + Ms(start) +
                    (keep ? "" : " closed=true"));
      co_return keep;
    }
    not_found = not_found || status == 404;
    core.log.info("event=source-miss " + id + " " + who + " source=" + source +
                  " status=" + std::to_string(status) +
                  (failure.empty() ? "" : " reason=" + log_value(failure)));
  }
  core.log.info("event=not-served " + id + " " + who +
                (manifest ? " manifest=" : " blob=") + route->reference +
                " ms=" + Ms(start));
  if (not_found)
    co_return co_await Reply(
        core, down, req, http::status::not_found,
        ErrorBody(manifest ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN",
                  "no source of the image has it"));
  co_return co_await Reply(core, down, req, http::status::bad_gateway,
                           ErrorBody("UNAVAILABLE", "no source answered"));
}
