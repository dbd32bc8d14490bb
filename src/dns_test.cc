#include "dns.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

HttpUrl Url(const std::string& text) {
  auto url = parse_https_url(text);
  EXPECT_TRUE(url.ok());
  return url.ok() ? *url : HttpUrl{};
}

TEST(ResolveHost, IpLiteralNeedsNoLookup) {
  // A deadline already passed: a literal is not looked up, so it still works.
  auto eps = resolve_host(Url("https://[::1]:6443"), Clock::now());
  ASSERT_TRUE(eps.ok()) << eps.error().message;
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_EQ((*eps)[0].port(), 6443);
  EXPECT_TRUE((*eps)[0].address().is_v6());
}

TEST(ResolveHost, NameFromTheHostsFileWithThePort) {
  auto eps = resolve_host(Url("https://localhost:8443"),
                          Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(eps.ok()) << eps.error().message;
  ASSERT_FALSE(eps->empty());
  for (const auto& ep : *eps) {
    EXPECT_EQ(ep.port(), 8443);
    EXPECT_TRUE(ep.address().is_loopback()) << ep.address().to_string();
  }
}

// A DNS server on loopback UDP for one test: answers A queries with
// 127.0.0.7 and AAAA queries with no record, answers every query with
// NXDOMAIN, or never answers.
class DnsServer {
 public:
  enum class Mode { kAnswer, kNxdomain, kSilent };

  explicit DnsServer(Mode mode) : mode_(mode) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot bind a UDP socket on 127.0.0.1";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~DnsServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }

  // DnsConfig for a resolver that asks only this server.
  DnsConfig Config(const std::filesystem::path& dir) const {
    auto path = dir / "resolv.conf";
    std::ofstream(path) << "nameserver 127.0.0.1\noptions ndots:1 timeout:1\n";
    return DnsConfig{path.string(), port_};
  }
  int queries() const { return queries_; }

 private:
  void Serve() {
    unsigned char buf[512];
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0,
                           reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) continue;
      ++queries_;
      if (mode_ == Mode::kSilent) continue;
      // The question: labels up to the root label, then type and class.
      std::size_t end = 12;
      while (end < static_cast<std::size_t>(n) && buf[end] != 0) {
        end += buf[end] + 1u;
      }
      end += 5;
      if (end > static_cast<std::size_t>(n)) continue;
      int qtype = buf[end - 4] << 8 | buf[end - 3];
      std::string reply(reinterpret_cast<char*>(buf), end);
      bool answer = mode_ == Mode::kAnswer && qtype == 1;  // A
      reply[2] = static_cast<char>(0x81);                  // QR, RD
      reply[3] = static_cast<char>(mode_ == Mode::kNxdomain ? 0x83 : 0x80);
      reply[6] = 0, reply[7] = answer ? 1 : 0;  // ANCOUNT
      reply[8] = reply[9] = reply[10] = reply[11] = 0;
      if (answer) {
        // Name: pointer to the question; A, IN, TTL 60, 4 bytes.
        const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0,   1, 0, 0,
                                    0,    60,   0, 4, 127, 0, 0, 7};
        reply.append(reinterpret_cast<const char*>(rr), sizeof rr);
      }
      sendto(fd_, reply.data(), reply.size(), 0,
             reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  Mode mode_;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

class ResolveHostDns : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dns_test." + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ResolveHostDns, NameFromTheServerInResolvConf) {
  DnsServer server(DnsServer::Mode::kAnswer);
  auto eps = resolve_host(Url("https://api.cluster.test:6443"),
                          Clock::now() + 5s, server.Config(dir_));
  ASSERT_TRUE(eps.ok()) << eps.error().message;
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_EQ((*eps)[0].address().to_string(), "127.0.0.7");
  EXPECT_EQ((*eps)[0].port(), 6443);
  EXPECT_GE(server.queries(), 1);
}

TEST_F(ResolveHostDns, NoSuchNameIsATransportError) {
  DnsServer server(DnsServer::Mode::kNxdomain);
  auto eps = resolve_host(Url("https://nosuch.cluster.test"), Clock::now() + 5s,
                          server.Config(dir_));
  ASSERT_FALSE(eps.ok());
  EXPECT_EQ(eps.error().kind, HttpError::Kind::kTransport);
  EXPECT_NE(eps.error().message.find("cannot resolve \"nosuch.cluster.test\""),
            std::string::npos)
      << eps.error().message;
  EXPECT_GE(server.queries(), 1);
}

TEST_F(ResolveHostDns, SilentServerStopsAtTheDeadline) {
  DnsServer server(DnsServer::Mode::kSilent);
  auto start = Clock::now();
  auto eps = resolve_host(Url("https://api.cluster.test"), start + 300ms,
                          server.Config(dir_));
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(eps.ok());
  EXPECT_EQ(eps.error().kind, HttpError::Kind::kTimeout);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_GE(server.queries(), 1);
}

}  // namespace
