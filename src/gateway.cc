#include "gateway.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <csignal>
#include <set>

#include "gateway_handler.h"
#include "gateway_tls.h"
#include "ticket.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// A request header is small (a path, Accept, Range, one Authorization); the
// connection's memory is this, the relay buffer, and one source's response
// (gateway_upstream.h), whatever the client sends.
constexpr size_t kRequestHeaderBytes = 16 << 10;
constexpr size_t kRelayBufferBytes = 64 << 10;

auto Use(beast::error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

struct Connection {
  beast::tcp_stream* lowest = nullptr;
  bool busy = false;  // a request is being answered
};

struct Gateway {
  net::io_context ioc{1};
  GatewayCore core;
  ssl::context server_tls{ssl::context::tls_server};
  std::set<Connection*> connections;
  net::steady_timer drain_timer{ioc};
  net::steady_timer sweep_timer{ioc};

  explicit Gateway(const GatewayOptions& o) : core(o) {}
};

void FinishDrainWhenIdle(Gateway& g) {
  if (g.core.draining && g.connections.empty()) g.drain_timer.cancel();
}

Task<void> Serve(Gateway& g, TlsStream down) {
  Connection conn;
  conn.lowest = &beast::get_lowest_layer(down);
  g.connections.insert(&conn);
  auto io = g.core.options.io_timeout;
  try {
    beast::error_code ec;
    conn.lowest->expires_after(io);
    co_await down.async_handshake(ssl::stream_base::server, Use(ec));
    beast::flat_buffer buffer(kRequestHeaderBytes);
    std::vector<char> relay(kRelayBufferBytes);
    while (!ec && !g.core.draining) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(kRequestHeaderBytes);
      parser.body_limit(0);
      // The whole request within one --io-timeout: a client that connects
      // and sends nothing, or half a header, is dropped then.
      conn.lowest->expires_after(io);
      conn.busy = false;
      co_await http::async_read(down, buffer, parser, Use(ec));
      conn.busy = true;
      if (ec) break;
      if (!co_await handle_request(g.core, down, parser.get(), relay)) break;
    }
    conn.lowest->expires_after(std::chrono::seconds(2));
    co_await down.async_shutdown(Use(ec));
  } catch (const std::exception& e) {
    g.core.log.error("event=connection-error reason=" + log_value(e.what()));
  }
  g.connections.erase(&conn);
  FinishDrainWhenIdle(g);
}

Task<void> Accept(Gateway& g, tcp::acceptor& acceptor) {
  while (!g.core.draining) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(Use(ec));
    if (ec) {
      if (g.core.draining) break;
      g.core.log.warn("event=accept-failed reason=" + log_value(ec.message()));
      net::steady_timer pause(g.ioc, std::chrono::milliseconds(100));
      co_await pause.async_wait(Use(ec));
      continue;
    }
    if (static_cast<int>(g.connections.size()) >=
        g.core.options.max_connections) {
      g.core.log.warn("event=refused reason=max-connections");
      socket.close(ec);
      continue;
    }
    net::co_spawn(
        g.ioc,
        Serve(g, TlsStream(beast::tcp_stream(std::move(socket)), g.server_tls)),
        net::detached);
  }
}

// Ends pulls that went quiet, so a ticket is worthless soon after its pull.
Task<void> Sweep(Gateway& g) {
  while (!g.core.draining) {
    g.sweep_timer.expires_after(std::chrono::seconds(5));
    beast::error_code ec;
    co_await g.sweep_timer.async_wait(Use(ec));
    end_quiet_sessions(g.core.sessions, g.core.limits,
                       std::chrono::steady_clock::now(), g.core.log);
  }
}

Result<tcp::endpoint> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos)
    return Error{"--listen takes ADDRESS:PORT, not \"" + listen + "\""};
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  int port = std::atoi(listen.substr(colon + 1).c_str());
  if (ec || port <= 0 || port > 65535)
    return Error{"--listen takes ADDRESS:PORT, not \"" + listen + "\""};
  if (!address.is_loopback())
    return Error{
        "--listen must be a loopback address: the gateway serves this "
        "node's containerd only"};
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

Result<Ok> Setup(Gateway& g) {
  const GatewayOptions& o = g.core.options;
  if (auto dir = check_ticket_dir(o.ticket_dir); !dir) return dir.error();
  if (auto client = setup_upstream_client(g.core.upstream, o.mirror_ca_file);
      !client)
    return client.error();
  if (auto made = ensure_gateway_certificate(o.tls_cert, o.tls_key); !made)
    return Error{made.error().message +
                 ": fix --tls-cert/--tls-key or their directory"};
  SSL_CTX_set_min_proto_version(g.server_tls.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  g.server_tls.use_certificate_chain_file(o.tls_cert, ec);
  if (!ec) g.server_tls.use_private_key_file(o.tls_key, ssl::context::pem, ec);
  if (ec)
    return Error{"cannot load the gateway's certificate or key (" + o.tls_cert +
                 ", " + o.tls_key + "): " + ec.message() +
                 ": delete both to have new ones made"};
  return Ok{};
}

// SIGTERM/SIGINT: stop accepting, close idle connections, let requests in
// flight finish (their answers close the connection) and stop when the
// last connection ends or --drain-timeout passes.
void Drain(Gateway& g, tcp::acceptor& acceptor) {
  g.core.log.info("event=draining connections=" +
                  std::to_string(g.connections.size()));
  g.core.draining = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  g.sweep_timer.cancel();
  for (Connection* c : g.connections)
    if (!c->busy) c->lowest->cancel();
  g.drain_timer.expires_after(g.core.options.drain_timeout);
  g.drain_timer.async_wait([&g](const boost::system::error_code& e) {
    if (e) return;
    g.core.log.warn("event=drain-timeout connections=" +
                    std::to_string(g.connections.size()));
    g.ioc.stop();
  });
  FinishDrainWhenIdle(g);
}

}  // namespace

int run_gateway(const GatewayOptions& o) {
  Gateway g(o);
  auto fail = [&](const std::string& message) {
    g.core.log.error(message);
    return 1;
  };
  if (auto ready = Setup(g); !ready) return fail(ready.error().message);
  auto endpoint = ParseListen(o.listen);
  if (!endpoint) return fail(endpoint.error().message);
  tcp::acceptor acceptor(g.ioc);
  boost::system::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("cannot listen on " + o.listen + ": " + ec.message() +
                ": pick a free port with --listen");
  net::signal_set signals(g.ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (!error) Drain(g, acceptor);
  });
  ::signal(SIGPIPE, SIG_IGN);
  net::co_spawn(g.ioc, Accept(g, acceptor), net::detached);
  net::co_spawn(g.ioc, Sweep(g), net::detached);
  g.core.log.info("event=listening address=" + o.listen +
                  " ticket_dir=" + o.ticket_dir);
  g.ioc.run();
  g.core.log.info("event=stopped");
  return 0;
}
