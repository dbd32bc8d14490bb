// The gateway's client side: one object (manifest or blob) from one of a
// ticket's sources, with that source's own credential. Every step (lookup,
// connect, handshake, write, each read) has a deadline: --io-timeout from
// the step's start, and never later than the pull's own end (--pull-max).
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "result.h"
#include "ticket.h"

template <class T>
using Task = boost::asio::awaitable<T>;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using HttpHeaders =
    std::vector<std::pair<boost::beast::http::field, std::string>>;

// Per-connection memory is bounded by these: the response header, the read
// buffer behind it, and a token service's answer.
constexpr size_t kUpstreamHeaderBytes = 64 << 10;
constexpr size_t kUpstreamBufferBytes = 128 << 10;
constexpr size_t kTokenBodyBytes = 64 << 10;

struct UpstreamClient {
  boost::asio::ssl::context verified{boost::asio::ssl::context::tls_client};
  boost::asio::ssl::context unverified{boost::asio::ssl::context::tls_client};
  // Host lookups block (getaddrinfo); they run here, never on the thread
  // that serves every connection.
  boost::asio::thread_pool lookups{2};
  std::chrono::nanoseconds io_timeout{std::chrono::seconds(60)};
};

// The trust anchors for mirrors (the system store, or `mirror_ca_file`
// instead) and TLS 1.2 at least.
Result<Ok> setup_upstream_client(UpstreamClient& client,
                                 const std::string& mirror_ca_file);

// A response whose header has been read; the body is still to be read.
struct UpstreamResponse {
  TlsStream stream;
  boost::beast::flat_buffer buffer{kUpstreamBufferBytes};
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser;
  std::chrono::steady_clock::time_point limit;  // the pull's end
  UpstreamResponse(const boost::asio::any_io_executor& ex,
                   boost::asio::ssl::context& ctx);
  int status() const { return parser.get().result_int(); }
  std::string header(boost::beast::http::field f) const;
};

// The deadline of one step that starts now.
std::chrono::steady_clock::time_point step_deadline(
    const UpstreamClient& client, std::chrono::steady_clock::time_point limit);

// `suffix` ("/manifests/<ref>", "/blobs/<digest>") of the source's
// repository. Answers the source's challenge once with the ticket's
// credential for that source (Basic, or a token from the token service the
// source names), keeping what it accepted in `cached_auth`, and follows
// redirects (to blob storage) without the credential once they leave the
// source's origin. `forwarded` are the client's Accept and Range headers.
// Null with `why` (no secret in it) when the source could not be asked; a
// refusal is a response (401, 404...).
Task<std::unique_ptr<UpstreamResponse>> fetch_from_source(
    UpstreamClient& client, const TicketSource& source,
    std::string& cached_auth, boost::beast::http::verb method,
    const std::string& suffix, const HttpHeaders& forwarded,
    std::chrono::steady_clock::time_point limit, std::string& why);
