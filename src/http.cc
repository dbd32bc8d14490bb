#include "http.h"

#include <openssl/err.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <sstream>

#include "dns.h"

#ifndef CCP_VERSION
#define CCP_VERSION "dev"
#endif

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Kind = HttpError::Kind;
using ErrorCode = beast::error_code;

HttpError Fail(Kind kind, std::string message) {
  return HttpError{kind, std::move(message)};
}

bool IsSsl(const ErrorCode& ec) {
  return ec.category() == net::error::get_ssl_category();
}

// The packed OpenSSL error code Asio carries in an SSL-category error.
unsigned long SslCode(const ErrorCode& ec) {
  return static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
}

// The end of the stream. A peer that closes without close_notify is a plain
// EOF to us: HTTP framing, not TLS, says whether the message was complete.
bool IsEof(const ErrorCode& ec) {
  return ec == net::error::eof || ec == net::ssl::error::stream_truncated;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

}  // namespace

struct HttpClient::Impl {
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  Impl(HttpClientConfig c, HttpUrl u, SslCtxPtr ctx)
      : config(std::move(c)), url(std::move(u)), tls(ctx.release()) {}

  HttpClientConfig config;
  HttpUrl url;
  net::io_context io;
  net::ssl::context tls;         // owns the SSL_CTX
  std::optional<Stream> stream;  // the connection, if any
  std::string pending;           // bytes read but not yet parsed
  int connections = 0;
  int requests = 0;

  ~Impl() { Close(); }

  void Close() {
    stream.reset();
    pending.clear();
  }

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(*stream); }

  // Runs one asynchronous operation to completion; the tcp_stream's expiry
  // turns a missed deadline into beast::error::timeout.
  template <class Start>
  ErrorCode Run(Start start, std::size_t* transferred = nullptr) {
    ErrorCode result = net::error::operation_aborted;
    start([&](ErrorCode ec, auto... n) {
      result = ec;
      if (transferred != nullptr) {
        *transferred = (std::size_t{0} + ... + static_cast<std::size_t>(n));
      }
    });
    io.restart();
    io.run();
    return result;
  }

  // An error during an I/O step, for messages.
  HttpError IoError(const ErrorCode& ec, const std::string& during) const {
    if (ec == beast::error::timeout) {
      return Fail(Kind::kTimeout, "timed out " + during);
    }
    if (IsSsl(ec)) {
      return Fail(Kind::kTls,
                  "TLS error " + during + ": " +
                      describe_tls_failure(SslCode(ec),
                                           !config.client_cert_pem.empty()));
    }
    if (IsEof(ec)) {
      return Fail(Kind::kTransport,
                  "connection closed by " + url.host_port() + " " + during);
    }
    return Fail(Kind::kTransport, "connection to " + url.host_port() +
                                      " failed " + during + ": " +
                                      ec.message());
  }

  // Connects to each address in turn; each gets an equal share of the time
  // that is left, so one black-holed address cannot eat it all.
  HttpResult<Ok> Connect(Clock::time_point deadline) {
    auto endpoints = resolve_host(url, deadline);
    if (!endpoints) return endpoints.error();
    std::string last_error;
    bool timed_out = false;
    for (std::size_t i = 0; i < endpoints->size(); ++i) {
      const tcp::endpoint& ep = (*endpoints)[i];
      auto now = Clock::now();
      if (now >= deadline) break;
      auto share = (deadline - now) / static_cast<int>(endpoints->size() - i);
      Tcp().expires_at(now + share);
      ErrorCode ec =
          Run([&](auto handler) { Tcp().async_connect(ep, handler); });
      if (!ec) {
        ErrorCode ignored;
        Tcp().socket().set_option(tcp::no_delay(true), ignored);
        return Ok{};
      }
      if (ec == beast::error::timeout) {
        timed_out = true;
        last_error = "connect to " + FormatEndpoint(ep) + ": timed out";
      } else {
        last_error = "connect to " + FormatEndpoint(ep) + ": " + ec.message();
      }
      ErrorCode ignored;
      Tcp().socket().close(ignored);
    }
    if (Clock::now() >= deadline || (timed_out && endpoints->size() == 1)) {
      return Fail(Kind::kTimeout, "timed out connecting to " + url.host_port());
    }
    return Fail(Kind::kTransport, last_error);
  }

  HttpResult<Ok> Open(Clock::time_point deadline) {
    Close();
    stream.emplace(io, tls);
    auto prepared = prepare_tls_session(stream->native_handle(), url,
                                        !config.insecure_skip_tls_verify);
    if (!prepared) {
      Close();
      return prepared.error();
    }
    auto connected = Connect(deadline);
    if (!connected) {
      Close();
      return connected.error();
    }
    ++connections;
    Tcp().expires_at(deadline);
    ERR_clear_error();
    ErrorCode ec = Run([&](auto handler) {
      stream->async_handshake(net::ssl::stream_base::client, handler);
    });
    if (!ec) return Ok{};
    HttpError error = IoError(ec, "during the TLS handshake");
    if (IsSsl(ec)) {
      error.message =
          "TLS handshake failed: " +
          describe_handshake_failure(stream->native_handle(), SslCode(ec), url);
    }
    Close();
    return error;
  }

  // True when an idle kept-alive connection still looks usable: nothing is
  // waiting on it. The server's session tickets came before its first
  // response, so anything readable now is a close, a reset or junk.
  bool IdleConnectionUsable() {
    if (!stream || !pending.empty()) return false;
    pollfd p{Tcp().socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  // Reads one final response off the connection (http_response.h), every
  // read within the one absolute expiry: a server that drips bytes cannot
  // stretch the call past it.
  HttpResult<HttpResponse> ReadResponse(Clock::time_point deadline,
                                        ResponseEnd* end) {
    Tcp().expires_at(deadline);
    ReadSome read_some = [this](char* into, std::size_t capacity,
                                std::string_view during) {
      std::size_t n = 0;
      ErrorCode ec = Run(
          [&](auto handler) {
            stream->async_read_some(net::buffer(into, capacity), handler);
          },
          &n);
      ReadChunk chunk;
      chunk.bytes = n;
      if (n == 0 && !IsEof(ec)) chunk.error = IoError(ec, std::string(during));
      return chunk;
    };
    return read_response(pending, read_some,
                         {config.max_body_bytes, url.host_port()}, end);
  }

  // A GET, or a POST of a JSON body.
  http::request<http::string_body> BuildRequest(std::string_view path,
                                                std::string body = {}) const {
    std::string target = url.base_path;
    target += path;
    bool post = !body.empty();
    http::request<http::string_body> req(
        post ? http::verb::post : http::verb::get,
        beast::string_view(target.data(), target.size()), 11);
    const std::string authority = url.authority();
    req.set(http::field::host, authority);
    req.set(http::field::user_agent, "crio-credential-provider/" CCP_VERSION);
    req.set(http::field::accept, "application/json");
    if (!config.bearer_token.empty()) {
      req.set(http::field::authorization, "Bearer " + config.bearer_token);
    }
    if (post) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    return req;
  }

  HttpResult<Ok> Send(const http::request<http::string_body>& request,
                      Clock::time_point deadline) {
    Tcp().expires_at(deadline);
    ERR_clear_error();
    ErrorCode ec = Run(
        [&](auto handler) { http::async_write(*stream, request, handler); });
    if (ec) return IoError(ec, "sending the request");
    return Ok{};
  }

  static std::optional<HttpError> CheckPath(std::string_view path) {
    if (path.empty() || path.front() != '/') {
      return Fail(Kind::kConfig, "request path must start with '/'");
    }
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        return Fail(Kind::kConfig,
                    "request path has a space or control character");
      }
    }
    return std::nullopt;
  }

  std::vector<HttpResult<HttpResponse>> GetPipelined(
      const std::vector<std::string>& paths, Clock::time_point deadline) {
    std::vector<HttpResult<HttpResponse>> out;
    out.reserve(paths.size());
    auto one_at_a_time = [&] {
      while (out.size() < paths.size()) {
        out.push_back(Get(paths[out.size()], deadline));
      }
      return std::move(out);
    };
    if (paths.size() < 2) return one_at_a_time();
    for (const std::string& path : paths) {
      if (CheckPath(path)) return one_at_a_time();  // each gets its error
    }
    bool reused = stream.has_value();
    if (reused && !IdleConnectionUsable()) {
      Close();
      reused = false;
    }
    if (!stream) {
      if (auto opened = Open(deadline); !opened) {
        while (out.size() < paths.size()) out.push_back(opened.error());
        return out;
      }
    }
    // All requests in one write, so they leave in one flight.
    std::string wire;
    for (const std::string& path : paths) {
      std::ostringstream request;
      request << BuildRequest(path);
      wire += request.str();
    }
    requests += static_cast<int>(paths.size());
    Tcp().expires_at(deadline);
    ERR_clear_error();
    ErrorCode ec = Run([&](auto handler) {
      net::async_write(*stream, net::buffer(wire), handler);
    });
    if (ec) {
      Close();
      return one_at_a_time();
    }
    while (out.size() < paths.size()) {
      ResponseEnd end;
      auto resp = ReadResponse(deadline, &end);
      if (!resp) {
        // Closed, reset or garbled: what the server did not answer goes
        // out again one at a time, on a fresh connection.
        Close();
        if (resp.error().kind == Kind::kTimeout) {
          while (out.size() < paths.size()) out.push_back(resp.error());
          return out;
        }
        return one_at_a_time();
      }
      out.push_back(std::move(resp));
      if (!end.keep_alive) {
        Close();
        return one_at_a_time();
      }
    }
    return out;
  }

  HttpResult<HttpResponse> Get(std::string_view path,
                               Clock::time_point deadline) {
    return Exchange(path, {}, deadline);
  }

  // One request; a non-empty body makes it a POST, which is never resent.
  HttpResult<HttpResponse> Exchange(std::string_view path, std::string body,
                                    Clock::time_point deadline) {
    if (auto bad = CheckPath(path)) return *bad;
    const bool idempotent = body.empty();
    const auto request = BuildRequest(path, std::move(body));
    for (int attempt = 0;; ++attempt) {
      bool reused = stream.has_value();
      if (reused && !IdleConnectionUsable()) {
        Close();
        reused = false;
      }
      if (!stream) {
        auto opened = Open(deadline);
        if (!opened) return opened.error();
      }
      ++requests;
      auto sent = Send(request, deadline);
      ResponseEnd end;
      end.nothing_read = true;
      HttpResult<HttpResponse> resp =
          sent ? ReadResponse(deadline, &end)
               : HttpResult<HttpResponse>(sent.error());
      if (!sent && sent.error().kind == Kind::kTransport) {
        // A server that ends the session with a TLS alert (a rejected
        // client certificate, in TLS 1.3 after the handshake) may have
        // reset the connection before our write: the alert is still
        // queued for reading, and says more than the reset.
        ResponseEnd ignored;
        auto alert = ReadResponse(deadline, &ignored);
        if (!alert && alert.error().kind == Kind::kTls) resp = alert.error();
      }
      if (resp) {
        if (!end.keep_alive) Close();
        return resp;
      }
      Close();
      // A kept-alive connection the server had already dropped: resend
      // once on a fresh one (GET is idempotent).
      if (idempotent && reused && attempt == 0 && end.nothing_read &&
          resp.error().kind == Kind::kTransport) {
        continue;
      }
      return resp.error();
    }
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

HttpResult<std::unique_ptr<HttpClient>> HttpClient::create(
    HttpClientConfig config) {
  auto url = parse_https_url(config.server);
  if (!url) return url.error();
  for (char c : config.bearer_token) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      return Fail(Kind::kConfig, "bearer token has a control character");
    }
  }
  auto ctx = make_tls_context(config);
  if (!ctx) return ctx.error();
  auto impl = std::make_unique<Impl>(std::move(config), *url, std::move(*ctx));
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpResult<HttpResponse> HttpClient::get(std::string_view path_and_query,
                                         Clock::time_point deadline) {
  return impl_->Get(path_and_query, deadline);
}

HttpResult<HttpResponse> HttpClient::post(std::string_view path_and_query,
                                          std::string json_body,
                                          Clock::time_point deadline) {
  if (json_body.empty()) {
    return Fail(Kind::kConfig, "a POST needs a body");
  }
  return impl_->Exchange(path_and_query, std::move(json_body), deadline);
}

std::vector<HttpResult<HttpResponse>> HttpClient::get_pipelined(
    const std::vector<std::string>& paths_and_queries,
    Clock::time_point deadline) {
  return impl_->GetPipelined(paths_and_queries, deadline);
}

int HttpClient::connections_opened() const { return impl_->connections; }
int HttpClient::requests_sent() const { return impl_->requests; }
