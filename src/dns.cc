#include "dns.h"

#include <netdb.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace {

using Kind = HttpError::Kind;
using tcp = boost::asio::ip::tcp;

HttpError Fail(Kind kind, std::string message) {
  return HttpError{kind, std::move(message)};
}

// Shared between a caller and a resolver thread it may abandon.
struct ResolveState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  int err = 0;
  std::vector<tcp::endpoint> endpoints;
};

}  // namespace

HttpResult<std::vector<tcp::endpoint>> resolve_host(
    const HttpUrl& url, std::chrono::steady_clock::time_point deadline) {
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
  auto state = std::make_shared<ResolveState>();
  try {
    std::thread([state, host = url.host, port] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
      int err = errno;
      std::vector<tcp::endpoint> endpoints;
      for (addrinfo* ai = rc == 0 ? res : nullptr; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
          tcp::endpoint ep;
          std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
          ep.port(port);
          endpoints.push_back(ep);
        }
      }
      if (res != nullptr) freeaddrinfo(res);
      std::lock_guard<std::mutex> lock(state->mu);
      state->rc = rc;
      state->err = err;
      state->endpoints = std::move(endpoints);
      state->done = true;
      state->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Fail(Kind::kTransport,
                std::string("cannot start DNS lookup: ") + e.what());
  }
  std::unique_lock<std::mutex> lock(state->mu);
  if (!state->cv.wait_until(lock, deadline, [&] { return state->done; })) {
    return Fail(Kind::kTimeout, "timed out resolving \"" + url.host + "\"");
  }
  if (state->rc != 0) {
    std::string why = state->rc == EAI_SYSTEM ? std::strerror(state->err)
                                              : gai_strerror(state->rc);
    return Fail(Kind::kTransport,
                "cannot resolve \"" + url.host + "\": " + why);
  }
  if (state->endpoints.empty()) {
    return Fail(Kind::kTransport, "no address for \"" + url.host + "\"");
  }
  return std::move(state->endpoints);
}
