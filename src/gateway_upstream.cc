#include "gateway_upstream.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <optional>

#include "distribution.h"
#include "dns.h"
#include "json.h"
#include "tls.h"
#include "url.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int kMaxHops = 8;

auto Use(beast::error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

using Addresses = HttpResult<std::vector<tcp::endpoint>>;

// dns.cc's lookup on the lookup pool, so a slow resolver stalls no other
// connection; it gives up at `deadline` itself. The answer is posted back
// to the executor of the coroutine that waits for it.
template <class Token>
auto AsyncLookup(UpstreamClient& client, const HttpUrl& url,
                 Clock::time_point deadline, Token&& token) {
  return net::async_initiate<Token, void(std::optional<Addresses>)>(
      [&client](auto handler, HttpUrl host, Clock::time_point until) {
        auto work = net::make_work_guard(net::get_associated_executor(handler));
        net::post(client.lookups,
                  [handler = std::move(handler), work = std::move(work), host,
                   until]() mutable {
                    std::optional<Addresses> found = resolve_host(host, until);
                    auto home = work.get_executor();
                    net::post(home, [handler = std::move(handler),
                                     found = std::move(found)]() mutable {
                      handler(std::move(found));
                    });
                  });
      },
      token, url, deadline);
}

HttpUrl UrlOf(const Location& at) {
  HttpUrl url;
  url.host = at.host;
  url.port = at.port;
  boost::system::error_code not_ip;
  auto address = net::ip::make_address(at.host, not_ip);
  url.ip_literal = !not_ip;
  url.ipv6 = !not_ip && address.is_v6();
  return url;
}

// One request on a fresh connection; the response header is read.
Task<std::unique_ptr<UpstreamResponse>> Send(UpstreamClient& client,
                                             const Location& at, bool insecure,
                                             http::verb method,
                                             const HttpHeaders& headers,
                                             Clock::time_point limit,
                                             std::string& why) {
  if (at.scheme != "https") {
    why = "refusing plain http to " + at.origin();
    co_return nullptr;
  }
  auto ex = co_await net::this_coro::executor;
  auto up = std::make_unique<UpstreamResponse>(
      ex, insecure ? client.unverified : client.verified);
  up->limit = limit;
  HttpUrl url = UrlOf(at);
  auto addresses = co_await AsyncLookup(
      client, url, step_deadline(client, limit), net::use_awaitable);
  if (!addresses || !*addresses) {
    why = addresses ? (*addresses).error().message : "no lookup";
    co_return nullptr;
  }
  beast::error_code ec;
  auto& lowest = beast::get_lowest_layer(up->stream);
  lowest.expires_at(step_deadline(client, limit));
  co_await lowest.async_connect(**addresses, Use(ec));
  if (ec) {
    why = "cannot connect to " + at.origin() + ": " + ec.message();
    co_return nullptr;
  }
  // SNI and the name the certificate must be valid for: the API client's
  // TLS policy (tls.h).
  if (auto prepared =
          prepare_tls_session(up->stream.native_handle(), url, !insecure);
      !prepared) {
    why = prepared.error().message;
    co_return nullptr;
  }
  up->stream.set_verify_mode(insecure ? ssl::verify_none : ssl::verify_peer);
  lowest.expires_at(step_deadline(client, limit));
  co_await up->stream.async_handshake(ssl::stream_base::client, Use(ec));
  if (ec) {
    why = "TLS with " + at.origin() + " failed: " + ec.message();
    co_return nullptr;
  }
  http::request<http::empty_body> req{method, at.target, 11};
  req.set(http::field::host, at.port == 443 ? at.host : at.origin());
  req.set(http::field::user_agent,
          "crio-credential-provider-gateway/" CCP_VERSION);
  for (const auto& [name, value] : headers) req.insert(name, value);
  req.keep_alive(false);
  lowest.expires_at(step_deadline(client, limit));
  co_await http::async_write(up->stream, req, Use(ec));
  if (ec) {
    why = "cannot send to " + at.origin() + ": " + ec.message();
    co_return nullptr;
  }
  if (method == http::verb::head) up->parser.skip(true);
  lowest.expires_at(step_deadline(client, limit));
  co_await http::async_read_header(up->stream, up->buffer, up->parser, Use(ec));
  if (ec) {
    why = "no answer from " + at.origin() + ": " + ec.message();
    co_return nullptr;
  }
  co_return up;
}

// A small body (a token answer), at most kTokenBodyBytes.
Task<std::optional<std::string>> ReadSmallBody(UpstreamClient& client,
                                               UpstreamResponse& up) {
  std::string body;
  char buf[8192];
  beast::error_code ec;
  while (!up.parser.is_done()) {
    up.parser.get().body().data = buf;
    up.parser.get().body().size = sizeof buf;
    beast::get_lowest_layer(up.stream).expires_at(
        step_deadline(client, up.limit));
    co_await http::async_read(up.stream, up.buffer, up.parser, Use(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return std::nullopt;
    body.append(buf, sizeof buf - up.parser.get().body().size);
    if (body.size() > kTokenBodyBytes) co_return std::nullopt;
  }
  co_return body;
}

// The source's own token service (distribution's token auth): the tenant's
// credential goes to the realm the source names, over https only.
Task<std::string> FetchToken(UpstreamClient& client, const TicketSource& source,
                             const Location& at_source,
                             const AuthChallenge& challenge,
                             const std::string& repository,
                             Clock::time_point limit, std::string& why) {
  auto realm = challenge.params.find("realm");
  if (realm == challenge.params.end()) {
    why = "Bearer challenge without realm";
    co_return "";
  }
  auto at = resolve_location(at_source, realm->second);
  if (!at || at->scheme != "https") {
    why = "token realm is not an https URL";
    co_return "";
  }
  std::string query;
  if (auto service = challenge.params.find("service");
      service != challenge.params.end())
    query += "service=" + query_escape(service->second) + "&";
  query += "scope=" + query_escape("repository:" + repository + ":pull");
  at->target += (at->target.find('?') == std::string::npos ? "?" : "&") + query;
  HttpHeaders headers;
  if (!source.username.empty())
    headers.emplace_back(http::field::authorization,
                         basic_authorization(source.username, source.password));
  auto up = co_await Send(client, *at, source.insecure, http::verb::get,
                          headers, limit, why);
  if (!up) co_return "";
  if (up->status() != 200) {
    why = "token service " + at->origin() + " answered " +
          std::to_string(up->status());
    co_return "";
  }
  auto body = co_await ReadSmallBody(client, *up);
  if (!body) {
    why = "token answer from " + at->origin() + " unreadable or too large";
    co_return "";
  }
  auto doc = parse_json(*body);
  if (!doc) {
    why = "token answer from " + at->origin() + " not JSON";
    co_return "";
  }
  for (const char* key : {"token", "access_token"})
    if (doc->is_object() && doc->contains(key) && (*doc)[key].is_string() &&
        !(*doc)[key].get_ref<const std::string&>().empty())
      co_return "Bearer " + (*doc)[key].get<std::string>();
  why = "token answer from " + at->origin() + " has no token";
  co_return "";
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

}  // namespace

Result<Ok> setup_upstream_client(UpstreamClient& client,
                                 const std::string& mirror_ca_file) {
  boost::system::error_code ec;
  if (mirror_ca_file.empty()) {
    client.verified.set_default_verify_paths(ec);
  } else {
    client.verified.load_verify_file(mirror_ca_file, ec);
    if (ec)
      return Error{"cannot read --mirror-ca-file \"" + mirror_ca_file +
                   "\": " + ec.message()};
  }
  for (ssl::context* c : {&client.verified, &client.unverified})
    SSL_CTX_set_min_proto_version(c->native_handle(), TLS1_2_VERSION);
  return Ok{};
}

UpstreamResponse::UpstreamResponse(const net::any_io_executor& ex,
                                   ssl::context& ctx)
    : stream(ex, ctx) {
  parser.header_limit(kUpstreamHeaderBytes);
  // Blobs are streamed through a fixed buffer, whatever their size.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
}

std::string UpstreamResponse::header(http::field f) const {
  auto it = parser.get().find(f);
  return it == parser.get().end() ? "" : std::string(it->value());
}

Clock::time_point step_deadline(const UpstreamClient& client,
                                Clock::time_point limit) {
  auto step = Clock::now() +
              std::chrono::duration_cast<Clock::duration>(client.io_timeout);
  return std::min(step, limit);
}

Task<std::unique_ptr<UpstreamResponse>> fetch_from_source(
    UpstreamClient& client, const TicketSource& source,
    std::string& cached_auth, http::verb method, const std::string& suffix,
    const HttpHeaders& forwarded, Clock::time_point limit, std::string& why) {
  size_t slash = source.repository.find('/');
  std::string host = source.repository.substr(0, slash);
  std::string repository =
      slash == std::string::npos ? "" : source.repository.substr(slash + 1);
  auto parsed = resolve_location(Location{}, "https://" + host + "/");
  if (!parsed || repository.empty()) {
    why = "invalid source " + source.repository;
    co_return nullptr;
  }
  Location at = *parsed;
  at.target = "/v2/" + repository + suffix;
  const std::string origin = at.origin();
  bool answered_challenge = false;
  for (int hop = 0; hop < kMaxHops; ++hop) {
    HttpHeaders headers = forwarded;
    if (at.origin() == origin && !cached_auth.empty())
      headers.emplace_back(http::field::authorization, cached_auth);
    auto up =
        co_await Send(client, at, source.insecure, method, headers, limit, why);
    if (!up) co_return nullptr;
    int status = up->status();
    if (status == 401 && at.origin() == origin && !answered_challenge) {
      answered_challenge = true;
      auto challenge =
          parse_challenge(up->header(http::field::www_authenticate));
      std::string auth;
      if (challenge && challenge->scheme == "basic" && !source.username.empty())
        auth = basic_authorization(source.username, source.password);
      else if (challenge && challenge->scheme == "bearer")
        auth = co_await FetchToken(client, source, at, *challenge, repository,
                                   limit, why);
      if (auth.empty()) co_return up;  // anonymous and refused: next source
      cached_auth = std::move(auth);
      continue;
    }
    if (IsRedirect(status)) {
      auto next = resolve_location(at, up->header(http::field::location));
      if (!next) {
        why = "bad redirect from " + at.origin() + ": " + next.error().message;
        co_return nullptr;
      }
      at = *next;
      continue;
    }
    co_return up;
  }
  why = "too many redirects or challenges from " + origin;
  co_return nullptr;
}
