#include "http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#ifndef CCP_VERSION
#define CCP_VERSION "dev"
#endif

namespace {

using Clock = std::chrono::steady_clock;
using Kind = HttpError::Kind;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxCaFileBytes = 8u << 20;

HttpError Fail(Kind kind, std::string message) {
  return HttpError{kind, std::move(message)};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Lower(a) == Lower(b);
}

// Milliseconds left until `deadline`, rounded up; 0 when it has passed.
int RemainingMs(Clock::time_point deadline) {
  auto now = Clock::now();
  if (now >= deadline) return 0;
  auto ms =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// 1: ready, 0: deadline passed, -1: poll failed (errno set).
int WaitFd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    int ms = RemainingMs(deadline);
    if (ms == 0) return 0;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return 1;
    if (rc == 0) continue;  // re-check the clock
    if (errno != EINTR) return -1;
  }
}

std::string Errno(int e) { return std::strerror(e); }

// The root cause on OpenSSL's error queue (the earliest entry); empties it.
std::string OpenSslError() {
  unsigned long first = ERR_get_error();
  if (first == 0) return "unknown error";
  while (ERR_get_error() != 0) {
  }
  const char* reason = ERR_reason_error_string(first);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return buf;
}

// Blocks SIGPIPE while OpenSSL writes to a socket the peer may have closed,
// and swallows a SIGPIPE raised meanwhile: the process must not die of it.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        timespec zero{0, 0};
        while (sigtimedwait(&set, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const {
    if (ai != nullptr) freeaddrinfo(ai);
  }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

// Shared between a caller and a resolver thread it may abandon.
struct ResolveState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  AddrInfoPtr result;
};

// getaddrinfo bounded by the deadline: a name lookup runs in a detached
// thread that is abandoned when the deadline passes.
HttpResult<AddrInfoPtr> Resolve(const HttpUrl& url,
                                Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (url.ip_literal ? AI_NUMERICHOST : 0);
  std::string port = std::to_string(url.port);
  if (url.ip_literal) {
    addrinfo* res = nullptr;
    int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) {
      return Fail(Kind::kConfig,
                  "invalid address \"" + url.host + "\": " + gai_strerror(rc));
    }
    return AddrInfoPtr(res);
  }
  auto state = std::make_shared<ResolveState>();
  try {
    std::thread([state, host = url.host, port, hints] {
      addrinfo* res = nullptr;
      int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
      std::lock_guard<std::mutex> lock(state->mu);
      state->rc = rc;
      state->result.reset(res);
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
    std::string why =
        state->rc == EAI_SYSTEM ? Errno(errno) : gai_strerror(state->rc);
    return Fail(Kind::kTransport,
                "cannot resolve \"" + url.host + "\": " + why);
  }
  return std::move(state->result);
}

std::string FormatAddr(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) +
           "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return buf;
}

// Non-blocking connect to each address in turn; each gets an equal share
// of the time that is left, so one black-holed address cannot eat it all.
HttpResult<int> Connect(const HttpUrl& url, Clock::time_point deadline) {
  auto addrs = Resolve(url, deadline);
  if (!addrs) return addrs.error();
  std::vector<const addrinfo*> list;
  for (const addrinfo* ai = addrs->get(); ai != nullptr; ai = ai->ai_next) {
    list.push_back(ai);
  }
  if (list.empty()) {
    return Fail(Kind::kTransport, "no address for \"" + url.host + "\"");
  }
  std::string last_error;
  bool timed_out = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const addrinfo* ai = list[i];
    auto now = Clock::now();
    if (now >= deadline) break;
    auto share = (deadline - now) / static_cast<int>(list.size() - i);
    auto attempt_deadline = now + share;
    std::string where = FormatAddr(ai->ai_addr);
    int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      last_error = "socket: " + Errno(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (rc != 0 && err == EINPROGRESS) {
      int w = WaitFd(fd, POLLOUT, attempt_deadline);
      if (w == 0) {
        ::close(fd);
        timed_out = true;
        last_error = "connect to " + where + ": timed out";
        continue;
      }
      socklen_t len = sizeof err;
      if (w < 0) {
        err = errno;
      } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
      }
    }
    if (err != 0) {
      ::close(fd);
      last_error = "connect to " + where + ": " + Errno(err);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  if (Clock::now() >= deadline || (timed_out && list.size() == 1)) {
    return Fail(Kind::kTimeout, "timed out connecting to " + url.host_port());
  }
  return Fail(Kind::kTransport, last_error);
}

// Adds every certificate of a PEM bundle to `store`.
HttpResult<int> AddPemCerts(X509_STORE* store, const std::string& pem,
                            const std::string& what) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Fail(Kind::kConfig, "out of memory");
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    int ok = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (ok != 1) {
      BIO_free(bio);
      return Fail(Kind::kConfig,
                  what + ": cannot add certificate: " + OpenSslError());
    }
    ++count;
  }
  ERR_clear_error();  // the end of the bundle reads as "no start line"
  BIO_free(bio);
  if (count == 0) {
    return Fail(Kind::kConfig, what + ": no PEM certificate found");
  }
  return count;
}

HttpResult<std::string> ReadSmallFile(const std::string& path,
                                      const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(Kind::kConfig,
                "cannot read " + what + " " + path + ": " + Errno(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  if (data.size() > kMaxCaFileBytes) {
    return Fail(Kind::kConfig, what + " " + path + " is too large");
  }
  return data;
}

int NoPassword(char*, int, int, void*) { return 0; }

HttpResult<Ok> UseClientIdentity(SSL_CTX* ctx, const HttpClientConfig& c) {
  if (c.client_cert_pem.empty() && c.client_key_pem.empty()) return Ok{};
  if (c.client_cert_pem.empty() || c.client_key_pem.empty()) {
    return Fail(Kind::kConfig,
                "client certificate and client key must be given together");
  }
  BIO* bio = BIO_new_mem_buf(c.client_cert_pem.data(),
                             static_cast<int>(c.client_cert_pem.size()));
  if (bio == nullptr) return Fail(Kind::kConfig, "out of memory");
  int count = 0;
  std::string error;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    int ok = count == 0 ? SSL_CTX_use_certificate(ctx, cert)
                        : SSL_CTX_add1_chain_cert(ctx, cert);
    X509_free(cert);
    if (ok != 1) {
      error = "cannot use client certificate: " + OpenSslError();
      break;
    }
    ++count;
  }
  BIO_free(bio);
  if (!error.empty()) return Fail(Kind::kConfig, error);
  ERR_clear_error();
  if (count == 0) {
    return Fail(Kind::kConfig, "client certificate: no PEM certificate found");
  }
  bio = BIO_new_mem_buf(c.client_key_pem.data(),
                        static_cast<int>(c.client_key_pem.size()));
  if (bio == nullptr) return Fail(Kind::kConfig, "out of memory");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, NoPassword, nullptr);
  BIO_free(bio);
  if (key == nullptr) {
    return Fail(Kind::kConfig, "client key: cannot read PEM private key (" +
                                   OpenSslError() + ")");
  }
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1) {
    ERR_clear_error();
    EVP_PKEY_free(key);
    return Fail(Kind::kConfig,
                "client key does not match the client certificate");
  }
  int ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1) {
    return Fail(Kind::kConfig, "cannot use client key: " + OpenSslError());
  }
  return Ok{};
}

bool IsTchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool ParseHex(std::string_view s, std::size_t* out) {
  if (s.empty() || s.size() > 15) return false;
  std::size_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v * 16 + static_cast<std::size_t>(d);
  }
  *out = v;
  return true;
}

bool ParseDecimal(std::string_view s, std::size_t* out) {
  if (s.empty() || s.size() > 18) return false;
  std::size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string h = ipv6 ? "[" + host + "]" : host;
  if (port != 443) h += ":" + std::to_string(port);
  return h;
}

std::string HttpUrl::host_port() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

HttpResult<HttpUrl> parse_https_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Fail(Kind::kConfig,
                "invalid server URL \"" + std::string(url) + "\": " + why);
  };
  std::string_view rest = url;
  constexpr std::string_view kScheme = "https://";
  if (rest.size() < kScheme.size() ||
      Lower(rest.substr(0, kScheme.size())) != kScheme) {
    if (Lower(rest.substr(0, 7)) == "http://") {
      return bad("only https:// is supported");
    }
    return bad("expected https://host[:port]");
  }
  rest.remove_prefix(kScheme.size());
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path =
      end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return bad("a query or fragment is not allowed");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return bad("the path has a space or control character");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("user information is not allowed");
  }
  HttpUrl out;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '['");
    out.host = Lower(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ']'");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) {
      return bad("\"" + out.host + "\" is not an IPv6 address");
    }
    out.ip_literal = true;
    out.ipv6 = true;
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':', colon + 1) != std::string_view::npos) {
        return bad("an IPv6 address must be in brackets: https://[addr]:port");
      }
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    out.host = Lower(authority.substr(0, colon));
    if (out.host.empty()) return bad("no host");
    for (char c : out.host) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_')) {
        return bad("invalid character in host");
      }
    }
    in_addr a4;
    out.ip_literal = inet_pton(AF_INET, out.host.c_str(), &a4) == 1;
  }
  if (!port.empty()) {
    std::size_t p = 0;
    if (!ParseDecimal(port, &p) || p == 0 || p > 65535) {
      return bad("invalid port");
    }
    out.port = static_cast<int>(p);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_path = std::string(path);
  return out;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

struct HttpClient::Impl {
  HttpClientConfig config;
  HttpUrl url;
  SSL_CTX* ctx = nullptr;
  // The connection.
  int fd = -1;
  SSL* ssl = nullptr;
  std::string rbuf;  // bytes read but not consumed
  int connections = 0;
  int requests = 0;

  ~Impl() {
    Close();
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }

  void Close() {
    if (ssl != nullptr) {
      SSL_free(ssl);
      ssl = nullptr;
    }
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    rbuf.clear();
  }

  // After SSL_* returned rc <= 0: waits for the socket when OpenSSL wants
  // I/O (true), or returns the error. `eof` is set on a clean end of stream.
  HttpResult<bool> Wait(int rc, Clock::time_point deadline,
                        const std::string& during, bool* eof) {
    int e = SSL_get_error(ssl, rc);
    short events = 0;
    switch (e) {
      case SSL_ERROR_WANT_READ:
        events = POLLIN;
        break;
      case SSL_ERROR_WANT_WRITE:
        events = POLLOUT;
        break;
      case SSL_ERROR_ZERO_RETURN:
        if (eof != nullptr) {
          *eof = true;
          return false;
        }
        return Fail(Kind::kTransport,
                    "connection closed by " + url.host_port() + " " + during);
      case SSL_ERROR_SYSCALL: {
        int err = errno;
        ERR_clear_error();
        if (rc == 0 || err == 0) {
          if (eof != nullptr) {
            *eof = true;
            return false;
          }
          return Fail(Kind::kTransport,
                      "connection closed by " + url.host_port() + " " + during);
        }
        return Fail(Kind::kTransport, "connection to " + url.host_port() +
                                          " failed " + during + ": " +
                                          Errno(err));
      }
      case SSL_ERROR_SSL: {
        std::string why = OpenSslError();
        if (why.find("certificate required") != std::string::npos) {
          why += " (the server requires a client certificate)";
        } else if (why.find("alert") != std::string::npos &&
                   (why.find("certificate") != std::string::npos ||
                    why.find("unknown ca") != std::string::npos) &&
                   !config.client_cert_pem.empty()) {
          why += " (the server rejected the client certificate)";
        }
        return Fail(Kind::kTls, "TLS error " + during + ": " + why);
      }
      default:
        ERR_clear_error();
        return Fail(Kind::kTransport, "unexpected TLS state " + during);
    }
    int w = WaitFd(fd, events, deadline);
    if (w == 0) {
      return Fail(Kind::kTimeout, "timed out " + during);
    }
    if (w < 0) {
      return Fail(Kind::kTransport, "poll: " + Errno(errno));
    }
    return true;
  }

  HttpResult<Ok> Open(Clock::time_point deadline) {
    Close();
    auto fd_or = Connect(url, deadline);
    if (!fd_or) return fd_or.error();
    fd = *fd_or;
    ++connections;
    ssl = SSL_new(ctx);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
      Close();
      return Fail(Kind::kTls, "cannot create TLS session: " + OpenSslError());
    }
    if (!url.ip_literal) {
      // SNI carries names only (RFC 6066).
      SSL_set_tlsext_host_name(ssl, url.host.c_str());
    }
    if (!config.insecure_skip_tls_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param,
                                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int ok = url.ip_literal
                   ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
      if (ok != 1) {
        Close();
        return Fail(Kind::kConfig, "cannot verify against host \"" + url.host +
                                       "\": " + OpenSslError());
      }
    }
    SigpipeGuard guard;
    for (;;) {
      ERR_clear_error();
      int rc = SSL_connect(ssl);
      if (rc == 1) break;
      if (SSL_get_error(ssl, rc) == SSL_ERROR_SSL) {
        std::string why;
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
          ERR_clear_error();
          why = std::string("certificate verify failed: ") +
                X509_verify_cert_error_string(verify);
          if (verify == X509_V_ERR_HOSTNAME_MISMATCH ||
              verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            why +=
                " (the server certificate is not valid for " + url.host + ")";
          }
        } else {
          why = OpenSslError();
          if (why == "wrong version number" ||
              why == "packet length too long") {
            why += " (is the server speaking plain HTTP?)";
          }
        }
        Close();
        return Fail(Kind::kTls, "TLS handshake failed: " + why);
      }
      auto waited = Wait(rc, deadline, "during the TLS handshake", nullptr);
      if (!waited) {
        Close();
        return waited.error();
      }
    }
    return Ok{};
  }

  // True when an idle kept-alive connection still looks usable: nothing
  // (but TLS housekeeping such as session tickets) is waiting on it.
  bool IdleConnectionUsable() {
    if (ssl == nullptr) return false;
    if (!rbuf.empty()) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 0);
    if (rc == 0) return true;
    if (rc < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      return false;
    }
    char c;
    ERR_clear_error();
    int n = SSL_peek(ssl, &c, 1);
    if (n > 0) return false;  // unsolicited data: do not trust the stream
    int e = SSL_get_error(ssl, n);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ;
  }

  HttpResult<Ok> WriteAll(const std::string& data, Clock::time_point deadline) {
    SigpipeGuard guard;
    std::size_t off = 0;
    while (off < data.size()) {
      ERR_clear_error();
      int n = SSL_write(ssl, data.data() + off,
                        static_cast<int>(data.size() - off));
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      auto waited = Wait(n, deadline, "sending the request", nullptr);
      if (!waited) return waited.error();
    }
    return Ok{};
  }

  // Appends what arrives to rbuf. Returns false at the end of the stream.
  HttpResult<bool> ReadMore(Clock::time_point deadline,
                            const std::string& during) {
    char buf[16384];
    SigpipeGuard guard;  // TLS 1.3 may write key updates while reading
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        rbuf.append(buf, static_cast<std::size_t>(n));
        return true;
      }
      bool eof = false;
      auto waited = Wait(n, deadline, during, &eof);
      if (!waited) return waited.error();
      if (eof) return false;
    }
  }

  // Reads until rbuf holds a CRLF-terminated line starting at `from`;
  // returns the position of its CR LF.
  HttpResult<std::size_t> ReadLine(std::size_t from, Clock::time_point deadline,
                                   const std::string& during,
                                   std::size_t limit) {
    for (;;) {
      std::size_t pos = rbuf.find("\r\n", from);
      if (pos != std::string::npos) return pos;
      if (rbuf.size() - from > limit) {
        return Fail(Kind::kProtocol, "malformed response from " +
                                         url.host_port() + ": line too long");
      }
      auto more = ReadMore(deadline, during);
      if (!more) return more.error();
      if (!*more) {
        return Fail(Kind::kTransport,
                    "connection closed by " + url.host_port() + " " + during);
      }
    }
  }

  HttpError TooLarge() const {
    std::size_t max = config.max_body_bytes;
    std::string limit = max % (1u << 20) == 0
                            ? std::to_string(max >> 20) + " MiB"
                            : std::to_string(max) + " bytes";
    return Fail(Kind::kProtocol,
                "response body from " + url.host_port() + " exceeds " + limit);
  }

  // Reads one response. `nothing_read` tells the caller whether the server
  // closed the connection before sending a single byte (a stale keep-alive
  // connection: safe to resend).
  HttpResult<HttpResponse> ReadResponse(Clock::time_point deadline,
                                        bool* nothing_read, bool* keep_alive) {
    const std::string waiting = "waiting for the response";
    *nothing_read = false;
    HttpResponse resp;
    std::size_t header_end;
    for (;;) {  // skips 1xx interim responses
      for (;;) {
        header_end = rbuf.find("\r\n\r\n");
        if (header_end != std::string::npos) break;
        if (rbuf.size() > kMaxHeaderBytes) {
          return Fail(Kind::kProtocol, "response headers from " +
                                           url.host_port() + " are too large");
        }
        bool was_empty = rbuf.empty();
        auto more = ReadMore(deadline, waiting);
        if (!more) {
          if (was_empty && more.error().kind == Kind::kTransport) {
            *nothing_read = true;
          }
          return more.error();
        }
        if (!*more) {
          *nothing_read = rbuf.empty();
          return Fail(Kind::kTransport, "connection closed by " +
                                            url.host_port() +
                                            " before a complete response");
        }
      }
      std::string_view head(rbuf.data(), header_end);
      std::size_t eol = head.find("\r\n");
      std::string_view status_line = head.substr(0, eol);
      // "HTTP/1.1 200 OK"
      auto malformed = [&](const std::string& why) {
        return Fail(Kind::kProtocol,
                    "malformed response from " + url.host_port() + ": " + why);
      };
      if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" ||
          status_line[8] != ' ') {
        return malformed("bad status line");
      }
      std::string_view version = status_line.substr(5, 3);
      std::size_t code = 0;
      if (!ParseDecimal(status_line.substr(9, 3), &code) || code < 100 ||
          code > 999 || (status_line.size() > 12 && status_line[12] != ' ')) {
        return malformed("bad status code");
      }
      resp = HttpResponse{};
      resp.status = static_cast<int>(code);
      if (status_line.size() > 13) {
        resp.reason = std::string(Trim(status_line.substr(13)));
      }
      *keep_alive = version == "1.1";
      std::string_view rest =
          eol == std::string_view::npos ? "" : head.substr(eol + 2);
      while (!rest.empty()) {
        std::size_t next = rest.find("\r\n");
        std::string_view line = rest.substr(0, next);
        rest = next == std::string_view::npos ? "" : rest.substr(next + 2);
        std::size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos) {
          return malformed("bad header line");
        }
        std::string_view name = line.substr(0, colon);
        for (char c : name) {
          if (!IsTchar(c)) return malformed("bad header name");
        }
        resp.headers.emplace_back(Lower(name),
                                  std::string(Trim(line.substr(colon + 1))));
      }
      rbuf.erase(0, header_end + 4);
      if (resp.status >= 200 || resp.status == 101) break;
    }
    if (resp.status == 101) {
      return Fail(Kind::kProtocol,
                  "unexpected 101 Switching Protocols from " + url.host_port());
    }
    for (const auto& [k, v] : resp.headers) {
      if (k == "connection") {
        std::string l = Lower(v);
        if (l.find("close") != std::string::npos) *keep_alive = false;
        if (l.find("keep-alive") != std::string::npos) *keep_alive = true;
      }
    }
    bool chunked = false;
    std::optional<std::size_t> length;
    for (const auto& [k, v] : resp.headers) {
      if (k == "transfer-encoding") {
        std::string l = Lower(v);
        if (l != "chunked") {
          return Fail(Kind::kProtocol, "unsupported transfer-encoding \"" + l +
                                           "\" from " + url.host_port());
        }
        chunked = true;
      } else if (k == "content-length") {
        std::size_t n = 0;
        if (!ParseDecimal(v, &n) || (length && *length != n)) {
          return Fail(Kind::kProtocol,
                      "bad content-length from " + url.host_port());
        }
        length = n;
      }
    }
    const std::string reading = "reading the response body";
    std::size_t max = config.max_body_bytes;
    if (resp.status == 204 || resp.status == 304) {
      return resp;
    }
    if (chunked) {
      for (;;) {
        auto eol = ReadLine(0, deadline, reading, 1024);
        if (!eol) return eol.error();
        std::string_view line(rbuf.data(), *eol);
        line = Trim(line.substr(0, line.find(';')));
        std::size_t size = 0;
        if (!ParseHex(line, &size)) {
          return Fail(Kind::kProtocol,
                      "bad chunk size from " + url.host_port());
        }
        rbuf.erase(0, *eol + 2);
        if (size == 0) break;
        if (size > max || resp.body.size() + size > max) return TooLarge();
        while (rbuf.size() < size + 2) {
          auto more = ReadMore(deadline, reading);
          if (!more) return more.error();
          if (!*more) {
            return Fail(Kind::kTransport, "connection closed by " +
                                              url.host_port() + " " + reading);
          }
        }
        if (rbuf.compare(size, 2, "\r\n") != 0) {
          return Fail(Kind::kProtocol,
                      "bad chunk terminator from " + url.host_port());
        }
        resp.body.append(rbuf, 0, size);
        rbuf.erase(0, size + 2);
      }
      // Trailers, up to the empty line.
      std::size_t trailer_bytes = 0;
      for (;;) {
        auto eol = ReadLine(0, deadline, reading, kMaxHeaderBytes);
        if (!eol) return eol.error();
        std::size_t len = *eol;
        rbuf.erase(0, len + 2);
        if (len == 0) break;
        trailer_bytes += len;
        if (trailer_bytes > kMaxHeaderBytes) {
          return Fail(Kind::kProtocol, "response trailers from " +
                                           url.host_port() + " are too large");
        }
      }
      return resp;
    }
    if (length) {
      if (*length > max) return TooLarge();
      while (rbuf.size() < *length) {
        auto more = ReadMore(deadline, reading);
        if (!more) return more.error();
        if (!*more) {
          return Fail(Kind::kTransport, "connection closed by " +
                                            url.host_port() + " " + reading);
        }
      }
      resp.body = rbuf.substr(0, *length);
      rbuf.erase(0, *length);
      return resp;
    }
    // No framing: the body runs to the end of the stream.
    *keep_alive = false;
    for (;;) {
      if (rbuf.size() > max) return TooLarge();
      auto more = ReadMore(deadline, reading);
      if (!more) return more.error();
      if (!*more) break;
    }
    if (rbuf.size() > max) return TooLarge();
    resp.body = std::move(rbuf);
    rbuf.clear();
    return resp;
  }

  std::string BuildRequest(std::string_view path) const {
    std::string req;
    req.reserve(256 + config.bearer_token.size());
    req += "GET ";
    req += url.base_path;
    req += path;
    req += " HTTP/1.1\r\nHost: ";
    req += url.authority();
    req += "\r\nUser-Agent: crio-credential-provider/" CCP_VERSION
           "\r\nAccept: application/json\r\n";
    if (!config.bearer_token.empty()) {
      req += "Authorization: Bearer ";
      req += config.bearer_token;
      req += "\r\n";
    }
    req += "\r\n";
    return req;
  }

  HttpResult<HttpResponse> Get(std::string_view path,
                               Clock::time_point deadline) {
    if (path.empty() || path.front() != '/') {
      return Fail(Kind::kConfig, "request path must start with '/'");
    }
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        return Fail(Kind::kConfig,
                    "request path has a space or control character");
      }
    }
    const std::string request = BuildRequest(path);
    for (int attempt = 0;; ++attempt) {
      bool reused = ssl != nullptr;
      if (reused && !IdleConnectionUsable()) {
        Close();
        reused = false;
      }
      if (ssl == nullptr) {
        auto opened = Open(deadline);
        if (!opened) return opened.error();
      }
      ++requests;
      auto written = WriteAll(request, deadline);
      bool nothing_read = true;
      bool keep_alive = false;
      HttpResult<HttpResponse> resp =
          written ? ReadResponse(deadline, &nothing_read, &keep_alive)
                  : HttpResult<HttpResponse>(written.error());
      if (!written && written.error().kind == Kind::kTransport) {
        // A server that ends the session with a TLS alert (a rejected
        // client certificate, in TLS 1.3 after the handshake) may have
        // reset the connection before our write: the alert is still
        // queued for reading, and says more than the reset.
        bool ignored_nothing_read, ignored_keep_alive;
        auto alert =
            ReadResponse(deadline, &ignored_nothing_read, &ignored_keep_alive);
        if (!alert && alert.error().kind == Kind::kTls) resp = alert.error();
      }
      if (resp) {
        if (!keep_alive) Close();
        return resp;
      }
      Close();
      // A kept-alive connection the server had already dropped: resend
      // once on a fresh one (GET is idempotent).
      if (reused && attempt == 0 && nothing_read &&
          resp.error().kind == Kind::kTransport) {
        continue;
      }
      return resp.error();
    }
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

namespace {

// The system trust store. The hashed certificate directory is read lazily,
// one certificate per issuer looked up; the bundle file is parsed whole
// (about 140 certificates, tens of milliseconds), so it is used only where
// there is no directory.
HttpResult<bool> UseSystemTrustStore(SSL_CTX* ctx) {
  const char* dir = std::getenv(X509_get_default_cert_dir_env());
  if (!dir) dir = X509_get_default_cert_dir();
  struct stat st;
  if (::stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
      SSL_CTX_load_verify_dir(ctx, dir) == 1)
    return true;
  if (SSL_CTX_set_default_verify_paths(ctx) != 1)
    return Fail(Kind::kConfig,
                "cannot load the system trust store: " + OpenSslError());
  return true;
}

}  // namespace

HttpResult<std::unique_ptr<HttpClient>> HttpClient::create(
    HttpClientConfig config) {
  auto url = parse_https_url(config.server);
  if (!url) return url.error();
  for (char c : config.bearer_token) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      return Fail(Kind::kConfig, "bearer token has a control character");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->url = *url;
  impl->ctx = SSL_CTX_new(TLS_client_method());
  if (impl->ctx == nullptr) {
    return Fail(Kind::kConfig, "cannot create TLS context: " + OpenSslError());
  }
  SSL_CTX* ctx = impl->ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Framing comes from HTTP; a missing close_notify is a plain EOF.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (config.insecure_skip_tls_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    if (!config.ca_file.empty()) {
      auto pem = ReadSmallFile(config.ca_file, "CA file");
      if (!pem) return pem.error();
      auto added = AddPemCerts(store, *pem, "CA file " + config.ca_file);
      if (!added) return added.error();
    }
    if (!config.ca_pem.empty()) {
      auto added = AddPemCerts(store, config.ca_pem, "CA data");
      if (!added) return added.error();
    }
    if (config.ca_file.empty() && config.ca_pem.empty()) {
      auto loaded = UseSystemTrustStore(ctx);
      if (!loaded) return loaded.error();
    }
  }
  auto identity = UseClientIdentity(ctx, config);
  if (!identity) return identity.error();
  impl->config = std::move(config);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpResult<HttpResponse> HttpClient::get(std::string_view path_and_query,
                                         Clock::time_point deadline) {
  return impl_->Get(path_and_query, deadline);
}

void HttpClient::close() { impl_->Close(); }
int HttpClient::connections_opened() const { return impl_->connections; }
int HttpClient::requests_sent() const { return impl_->requests; }
const HttpUrl& HttpClient::url() const { return impl_->url; }
