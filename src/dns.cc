#include "dns.h"

#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace {

using Kind = HttpError::Kind;
using Clock = std::chrono::steady_clock;
using tcp = boost::asio::ip::tcp;

HttpError Fail(Kind kind, std::string message) {
  return HttpError{kind, std::move(message)};
}

// What the callback of one ares_getaddrinfo call leaves for the caller.
struct Lookup {
  bool done = false;
  int status = ARES_SUCCESS;
  unsigned short port = 0;
  std::vector<tcp::endpoint> endpoints;
};

void OnAddrinfo(void* arg, int status, int /*timeouts*/,
                ares_addrinfo* result) {
  auto* lookup = static_cast<Lookup*>(arg);
  lookup->done = true;
  lookup->status = status;
  if (result == nullptr) return;
  for (auto* node = result->nodes; node != nullptr; node = node->ai_next) {
    bool inet = node->ai_family == AF_INET || node->ai_family == AF_INET6;
    tcp::endpoint ep;
    if (!inet || node->ai_addr == nullptr ||
        static_cast<std::size_t>(node->ai_addrlen) > ep.capacity()) {
      continue;
    }
    std::memcpy(ep.data(), node->ai_addr, node->ai_addrlen);
    ep.resize(node->ai_addrlen);
    ep.port(lookup->port);
    lookup->endpoints.push_back(ep);
  }
  ares_freeaddrinfo(result);
}

struct ChannelDestroyer {
  void operator()(ares_channel channel) const { ares_destroy(channel); }
};
using Channel =
    std::unique_ptr<std::remove_pointer_t<ares_channel>, ChannelDestroyer>;

// Milliseconds until c-ares next needs to retry, capped by the deadline;
// rounded up so a wait never ends just short of either.
int WaitMillis(ares_channel channel, Clock::duration left) {
  auto left_us = std::chrono::ceil<std::chrono::microseconds>(left).count();
  timeval max{};
  max.tv_sec = static_cast<time_t>(left_us / 1000000);
  max.tv_usec = static_cast<suseconds_t>(left_us % 1000000);
  timeval next{};
  timeval* wait = ares_timeout(channel, &max, &next);
  long long ms = static_cast<long long>(wait->tv_sec) * 1000 +
                 (wait->tv_usec + 999) / 1000;
  return static_cast<int>(std::clamp<long long>(ms, 0, 60 * 1000));
}

}  // namespace

HttpResult<std::vector<tcp::endpoint>> resolve_host(const HttpUrl& url,
                                                    Clock::time_point deadline,
                                                    const DnsConfig& config) {
  auto port = static_cast<unsigned short>(url.port);
  if (url.ip_literal) {
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(url.host, ec);
    if (ec) {
      return Fail(Kind::kConfig,
                  "invalid address \"" + url.host + "\": " + ec.message());
    }
    return std::vector<tcp::endpoint>{tcp::endpoint(address, port)};
  }

  // ares_library_init only does work with WinSock; on Linux a channel needs
  // no process-wide set-up.
  ares_options options{};
  int optmask = 0;
  std::string resolv_conf = config.resolv_conf;
  if (!resolv_conf.empty()) {
    options.resolvconf_path = resolv_conf.data();
    optmask |= ARES_OPT_RESOLVCONF;
  }
  if (config.port != 0) {
    options.udp_port = config.port;  // host order: c-ares converts it
    options.tcp_port = config.port;
    optmask |= ARES_OPT_UDP_PORT | ARES_OPT_TCP_PORT;
  }
  // Declared before the channel: destroying the channel runs the callback
  // of an unfinished lookup (ARES_EDESTRUCTION), which writes here.
  Lookup lookup;
  lookup.port = port;
  ares_channel raw = nullptr;
  int rc = ares_init_options(&raw, &options, optmask);
  Channel channel(raw);
  if (rc != ARES_SUCCESS) {
    return Fail(Kind::kTransport, "cannot start the DNS resolver for \"" +
                                      url.host + "\": " + ares_strerror(rc));
  }
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // /etc/hosts is read inside this call: such a name is done already.
  ares_getaddrinfo(channel.get(), url.host.c_str(), nullptr, &hints, OnAddrinfo,
                   &lookup);

  while (!lookup.done) {
    auto now = Clock::now();
    if (now >= deadline) {
      return Fail(Kind::kTimeout, "timed out resolving \"" + url.host + "\"");
    }
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel.get(), sockets, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events != 0) fds[count++] = pollfd{sockets[i], events, 0};
    }
    int ready = poll(fds, count, WaitMillis(channel.get(), deadline - now));
    if (ready < 0 && errno != EINTR) {
      return Fail(Kind::kTransport, "cannot resolve \"" + url.host +
                                        "\": poll: " + std::strerror(errno));
    }
    bool handled = false;
    for (nfds_t i = 0; ready > 0 && i < count; ++i) {
      if (fds[i].revents == 0) continue;
      bool in = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      bool out = (fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
      ares_process_fd(channel.get(), in ? fds[i].fd : ARES_SOCKET_BAD,
                      out ? fds[i].fd : ARES_SOCKET_BAD);
      handled = true;
    }
    // Nothing ready: let c-ares resend or give up on servers that timed out.
    if (!handled) {
      ares_process_fd(channel.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
  }
  if (lookup.status != ARES_SUCCESS) {
    return Fail(Kind::kTransport, "cannot resolve \"" + url.host +
                                      "\": " + ares_strerror(lookup.status));
  }
  if (lookup.endpoints.empty()) {
    return Fail(Kind::kTransport, "no address for \"" + url.host + "\"");
  }
  return std::move(lookup.endpoints);
}
