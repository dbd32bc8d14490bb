// Test-only: a real OpenSSL TLS server on loopback, scripted per request,
// for the tests of the HTTPS client (tls_test, http_test) and the
// Kubernetes API client (kubeapi_test, kubeapi_errors_test,
// doctor_cluster_test); its certificates are test_pki.h's.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "http.h"
#include "kubeapi.h"
#include "test_pki.h"

namespace tls_test_server {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- A TLS server ----------------------------------------------------------

struct Reply {
  std::string bytes;
  bool close_after = false;  // close the connection after sending
  bool hang = false;         // never answer
  bool drop = false;         // close without answering
  // Hostile pacing: send `bytes` one byte per `drip` (zero: all at once),
  // and again and again while `repeat` until the client goes away.
  milliseconds drip{0};
  bool repeat = false;
};

inline Reply Respond(int status, const std::string& reason,
                     const std::string& body,
                     const std::string& extra_headers = "") {
  return Reply{"HTTP/1.1 " + std::to_string(status) + " " + reason +
               "\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" +
               body};
}

inline std::string StatusBody(int code, const std::string& reason,
                              const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":")" +
         message + R"(","reason":")" + reason + R"(","code":)" +
         std::to_string(code) + "}";
}

class TestServer {
 public:
  using Handler =
      std::function<Reply(const std::string& head, int conn, int req)>;
  struct Options {
    const Cert* cert = nullptr;       // server certificate (TestPki().server)
    const Cert* client_ca = nullptr;  // require a client certificate
    bool ipv6 = false;
    bool silent = false;  // accept TCP (kernel backlog), never speak TLS
  };

  TestServer(Options options, Handler handler)
      : options_(options), handler_(std::move(handler)) {
    int family = options.ipv6 ? AF_INET6 : AF_INET;
    listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len;
    if (options.ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      return;
    }
    port_ = options.ipv6
                ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (options.silent) return;
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_use_certificate(ctx_, options.cert->cert.get());
    SSL_CTX_use_PrivateKey(ctx_, options.cert->key.get());
    if (options.client_ca != nullptr) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_),
                          options.client_ca->cert.get());
      SSL_CTX_set_verify(
          ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~TestServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  bool ok() const { return port_ != 0; }
  int port() const { return port_; }
  std::string url() const {
    return std::string("https://") + (options_.ipv6 ? "[::1]" : "127.0.0.1") +
           ":" + std::to_string(port_);
  }
  int connections() const { return connections_; }
  int closed() const { return closed_; }
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const std::string& h : heads()) {
      std::size_t a = h.find(' ');
      std::size_t b = h.find(' ', a + 1);
      out.push_back(h.substr(a + 1, b - a - 1));
    }
    return out;
  }
  std::vector<std::string> client_cns() const {
    std::lock_guard<std::mutex> lock(mu_);
    return client_cns_;
  }
  // Waits (up to 2 s) until `n` connections were closed by the server.
  bool WaitClosed(int n) const {
    auto end = Clock::now() + milliseconds(2000);
    while (closed_ < n && Clock::now() < end) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return closed_ >= n;
  }

 private:
  static void BlockSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

  void Accept() {
    BlockSigpipe();
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int conn = connections_++;
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([this, fd, conn] { Serve(fd, conn); });
    }
  }

  void Serve(int fd, int conn) {
    BlockSigpipe();
    // As Go's servers (kube-apiserver) do: a response written in parts is
    // not held back for the client's delayed ACK.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{0, 20000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    bool ok = false;
    while (!stop_) {
      int rc = SSL_accept(ssl);
      if (rc == 1) {
        ok = true;
        break;
      }
      int e = SSL_get_error(ssl, rc);
      ERR_clear_error();
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;
    }
    if (ok) {
      if (X509* peer = SSL_get1_peer_certificate(ssl)) {
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
                                  cn, sizeof cn);
        X509_free(peer);
        std::lock_guard<std::mutex> lock(mu_);
        client_cns_.push_back(cn);
      }
      ServeRequests(ssl, conn);
    }
    SSL_free(ssl);
    ::close(fd);
    ++closed_;
  }

  void ServeRequests(SSL* ssl, int conn) {
    std::string buf;
    for (int req = 0; !stop_; ++req) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (stop_) return;
        char tmp[4096];
        int n = SSL_read(ssl, tmp, sizeof tmp);
        if (n > 0) {
          buf.append(tmp, static_cast<std::size_t>(n));
          continue;
        }
        int e = SSL_get_error(ssl, n);
        ERR_clear_error();
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return;
      }
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      {
        std::lock_guard<std::mutex> lock(mu_);
        heads_.push_back(head);
      }
      Reply r = handler_(head, conn, req);
      if (r.drop) return;
      if (r.hang) {
        while (!stop_) std::this_thread::sleep_for(milliseconds(5));
        return;
      }
      do {
        std::size_t off = 0;
        while (off < r.bytes.size() && !stop_) {
          std::size_t want = r.bytes.size() - off;
          if (r.drip.count() > 0) {
            std::this_thread::sleep_for(r.drip);
            want = 1;
          }
          int n = SSL_write(ssl, r.bytes.data() + off, static_cast<int>(want));
          if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
          }
          int e = SSL_get_error(ssl, n);
          ERR_clear_error();
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return;
        }
      } while (r.repeat && !stop_);
      if (r.close_after) return;
    }
  }

  Options options_;
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<std::string> heads_;
  std::vector<std::string> client_cns_;
};

inline TestServer::Options ServeWith(const Cert& cert) {
  TestServer::Options o;
  o.cert = &cert;
  return o;
}

inline Reply Ok200(const std::string&, int, int) {
  return Respond(200, "OK", R"({"ok":true})");
}

// A port with nothing listening.
inline int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline Clock::time_point In(int ms) { return Clock::now() + milliseconds(ms); }

inline HttpClientConfig Trusting(const std::string& server) {
  HttpClientConfig c;
  c.server = server;
  c.ca_pem = TestPki().ca.cert_pem;
  return c;
}

inline std::unique_ptr<HttpClient> MustCreate(HttpClientConfig c) {
  auto client = HttpClient::create(std::move(c));
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(*client) : nullptr;
}

// The API client's settings for `server`: its CA trusted, a bearer token
// the tests look for in every message (it must never show).
inline ApiConfig ApiTo(const TestServer& server, int timeout_ms = 10000) {
  ApiConfig c;
  c.server = server.url();
  c.ca_pem = TestPki().ca.cert_pem;
  c.bearer_token = "secret-token-value";
  c.timeout = milliseconds(timeout_ms);
  return c;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/http_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& data) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << data;
    return p;
  }

 private:
  std::string path_;
};

}  // namespace tls_test_server
