// Tests of the HTTPS client (http.h) and the Kubernetes API client
// (kubeapi.h) against a real OpenSSL server on 127.0.0.1, with a CA and
// certificates generated here.
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
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

#include "base64.h"
#include "gtest/gtest.h"
#include "kubeapi.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- Certificates ----------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

struct Cert {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string cert_pem;
  std::string key_pem;
};

struct CertSpec {
  std::string cn;
  std::string san;  // "IP:127.0.0.1,DNS:localhost"; empty: none
  bool ca = false;
  bool client = false;
};

void AddExt(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string ToPem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string ToPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// A P-256 certificate, self-signed when `issuer` is null.
Cert MakeCert(const CertSpec& spec, const Cert* issuer) {
  static int serial = 1;
  Cert c;
  c.key.reset(EVP_EC_gen("P-256"), PkeyFree());
  c.cert.reset(X509_new(), X509Free());
  X509* x = c.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, c.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
  if (spec.ca) {
    AddExt(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(x, &ctx, NID_key_usage, "critical,digitalSignature");
    AddExt(x, &ctx, NID_ext_key_usage,
           spec.client ? "clientAuth" : "serverAuth");
  }
  if (!spec.san.empty()) AddExt(x, &ctx, NID_subject_alt_name, spec.san);
  X509_sign(x, issuer ? issuer->key.get() : c.key.get(), EVP_sha256());
  c.cert_pem = ToPem(x);
  c.key_pem = ToPem(c.key.get());
  return c;
}

struct Pki {
  Cert ca = MakeCert({"test-ca", "", true}, nullptr);
  Cert other_ca = MakeCert({"other-ca", "", true}, nullptr);
  Cert server = MakeCert({"server", "IP:127.0.0.1,IP:::1,DNS:localhost"}, &ca);
  Cert wrong_name = MakeCert({"server", "DNS:api.other.example"}, &ca);
  Cert client_ca = MakeCert({"client-ca", "", true}, nullptr);
  Cert client = MakeCert({"system:node:node1", "", false, true}, &client_ca);
};

const Pki& TestPki() {
  static const Pki* pki = new Pki();
  return *pki;
}

// ---- A TLS server ----------------------------------------------------------

struct Reply {
  std::string bytes;
  bool close_after = false;  // close the connection after sending
  bool hang = false;         // never answer
  bool drop = false;         // close without answering
};

Reply Respond(int status, const std::string& reason, const std::string& body,
              const std::string& extra_headers = "") {
  return Reply{"HTTP/1.1 " + std::to_string(status) + " " + reason +
               "\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" +
               body};
}

std::string StatusBody(int code, const std::string& reason,
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
      std::size_t off = 0;
      while (off < r.bytes.size() && !stop_) {
        int n = SSL_write(ssl, r.bytes.data() + off,
                          static_cast<int>(r.bytes.size() - off));
        if (n > 0) {
          off += static_cast<std::size_t>(n);
          continue;
        }
        int e = SSL_get_error(ssl, n);
        ERR_clear_error();
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return;
      }
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

TestServer::Options ServeWith(const Cert& cert) {
  TestServer::Options o;
  o.cert = &cert;
  return o;
}

Reply Ok200(const std::string&, int, int) {
  return Respond(200, "OK", R"({"ok":true})");
}

// A port with nothing listening.
int ClosedPort() {
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

Clock::time_point In(int ms) { return Clock::now() + milliseconds(ms); }

HttpClientConfig Trusting(const std::string& server) {
  HttpClientConfig c;
  c.server = server;
  c.ca_pem = TestPki().ca.cert_pem;
  return c;
}

std::unique_ptr<HttpClient> MustCreate(HttpClientConfig c) {
  auto client = HttpClient::create(std::move(c));
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(*client) : nullptr;
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

// ---- URL parsing -----------------------------------------------------------

TEST(ParseHttpsUrl, Table) {
  struct Case {
    std::string url;
    bool ok = false;
    std::string host = "";
    int port = 0;
    std::string base = "";
    bool ip = false;
    bool v6 = false;
    std::string authority = "";
  };
  const Case cases[] = {
      {"https://api.example.com", true, "api.example.com", 443, "", false,
       false, "api.example.com"},
      {"https://API.Example.com:6443/", true, "api.example.com", 6443, "",
       false, false, "api.example.com:6443"},
      {"https://10.0.0.1:6443", true, "10.0.0.1", 6443, "", true, false,
       "10.0.0.1:6443"},
      {"https://[::1]:6443", true, "::1", 6443, "", true, true, "[::1]:6443"},
      {"https://[fd00::10]", true, "fd00::10", 443, "", true, true,
       "[fd00::10]"},
      {"https://rancher.example/k8s/clusters/c-1/", true, "rancher.example",
       443, "/k8s/clusters/c-1", false, false, "rancher.example"},
      {"http://api.example.com", false},
      {"api.example.com:6443", false},
      {"https://::1:6443", false},
      {"https://[::1", false},
      {"https://[not-v6]:443", false},
      {"https://host:0", false},
      {"https://host:65536", false},
      {"https://host:", false},
      {"https://host:12ab", false},
      {"https://user@host", false},
      {"https://host/?q=1", false},
      {"https://", false},
      {"https://ho st", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    auto u = parse_https_url(c.url);
    ASSERT_EQ(u.ok(), c.ok);
    if (!c.ok) {
      EXPECT_EQ(u.error().kind, HttpError::Kind::kConfig);
      EXPECT_NE(u.error().message.find("invalid server URL"),
                std::string::npos);
      continue;
    }
    EXPECT_EQ(u->host, c.host);
    EXPECT_EQ(u->port, c.port);
    EXPECT_EQ(u->base_path, c.base);
    EXPECT_EQ(u->ip_literal, c.ip);
    EXPECT_EQ(u->ipv6, c.v6);
    EXPECT_EQ(u->authority(), c.authority);
  }
}

// ---- TLS -------------------------------------------------------------------

TEST(HttpClientTls, VerificationTable) {
  const Pki& pki = TestPki();
  TempDir dir;
  const std::string ca_file = dir.Write("ca.crt", pki.ca.cert_pem);
  const std::string other_ca_file =
      dir.Write("other.crt", pki.other_ca.cert_pem);
  struct Case {
    std::string name;
    const Cert* server_cert;
    std::string host;  // in the URL
    std::function<void(HttpClientConfig&)> configure;
    bool ok;
    std::string error_part;  // in the kTls message
  };
  const Case cases[] = {
      {"inline CA, IP", &pki.server, "127.0.0.1",
       [&](HttpClientConfig& c) { c.ca_pem = pki.ca.cert_pem; }, true, ""},
      {"CA file, name", &pki.server, "localhost",
       [&](HttpClientConfig& c) { c.ca_file = ca_file; }, true, ""},
      {"CA file and other inline CA", &pki.server, "127.0.0.1",
       [&](HttpClientConfig& c) {
         c.ca_file = ca_file;
         c.ca_pem = pki.other_ca.cert_pem;
       },
       true, ""},
      {"wrong CA", &pki.server, "127.0.0.1",
       [&](HttpClientConfig& c) { c.ca_file = other_ca_file; }, false,
       "certificate verify failed: unable to get local issuer certificate"},
      {"system trust store", &pki.server, "127.0.0.1",
       [&](HttpClientConfig&) {}, false, "certificate verify failed"},
      {"IP mismatch", &pki.wrong_name, "127.0.0.1",
       [&](HttpClientConfig& c) { c.ca_pem = pki.ca.cert_pem; }, false,
       "certificate verify failed: IP address mismatch (the server "
       "certificate is not valid for 127.0.0.1)"},
      {"hostname mismatch", &pki.wrong_name, "localhost",
       [&](HttpClientConfig& c) { c.ca_pem = pki.ca.cert_pem; }, false,
       "certificate verify failed: hostname mismatch"},
      {"insecure skip, wrong CA and name", &pki.wrong_name, "127.0.0.1",
       [&](HttpClientConfig& c) {
         c.ca_pem = pki.other_ca.cert_pem;
         c.insecure_skip_tls_verify = true;
       },
       true, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(*c.server_cert), Ok200);
    ASSERT_TRUE(server.ok());
    HttpClientConfig config;
    config.server = "https://" + c.host + ":" + std::to_string(server.port());
    c.configure(config);
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get("/x", In(5000));
    ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? "" : r.error().message);
    if (c.ok) {
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, R"({"ok":true})");
    } else {
      EXPECT_EQ(r.error().kind, HttpError::Kind::kTls);
      EXPECT_NE(r.error().message.find(c.error_part), std::string::npos)
          << r.error().message;
      EXPECT_EQ(r.error().message.find("TLS handshake failed: "), 0u)
          << r.error().message;
    }
  }
}

TEST(HttpClientTls, ClientCertificateTable) {
  const Pki& pki = TestPki();
  struct Case {
    std::string name;
    bool with_cert;
    bool ok;
  };
  const Case cases[] = {{"with client certificate", true, true},
                        {"without client certificate", false, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer::Options o = ServeWith(pki.server);
    o.client_ca = &pki.client_ca;
    TestServer server(o, Ok200);
    ASSERT_TRUE(server.ok());
    HttpClientConfig config = Trusting(server.url());
    if (c.with_cert) {
      config.client_cert_pem = pki.client.cert_pem;
      config.client_key_pem = pki.client.key_pem;
    }
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get("/x", In(5000));
    ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? "" : r.error().message);
    if (c.ok) {
      EXPECT_EQ(server.client_cns(),
                std::vector<std::string>{"system:node:node1"});
    } else {
      EXPECT_EQ(r.error().kind, HttpError::Kind::kTls) << r.error().message;
      EXPECT_NE(r.error().message.find("certificate required"),
                std::string::npos)
          << r.error().message;
      EXPECT_TRUE(server.client_cns().empty());
    }
  }
}

TEST(HttpClientTls, ConfigErrorsTable) {
  const Pki& pki = TestPki();
  TempDir dir;
  const std::string not_pem = dir.Write("junk.crt", "not a certificate\n");
  struct Case {
    std::string name;
    std::function<void(HttpClientConfig&)> configure;
    std::string error_part;
  };
  const Case cases[] = {
      {"missing CA file",
       [](HttpClientConfig& c) { c.ca_file = "/nonexistent/ca.crt"; },
       "cannot read CA file /nonexistent/ca.crt: No such file or directory"},
      {"CA file without certificates",
       [&](HttpClientConfig& c) { c.ca_file = not_pem; },
       "no PEM certificate found"},
      {"inline CA without certificates",
       [](HttpClientConfig& c) { c.ca_pem = "garbage"; },
       "CA data: no PEM certificate found"},
      {"certificate without key",
       [&](HttpClientConfig& c) { c.client_cert_pem = pki.client.cert_pem; },
       "must be given together"},
      {"key that does not match",
       [&](HttpClientConfig& c) {
         c.client_cert_pem = pki.client.cert_pem;
         c.client_key_pem = pki.server.key_pem;
       },
       "client key does not match the client certificate"},
      {"key that is not PEM",
       [&](HttpClientConfig& c) {
         c.client_cert_pem = pki.client.cert_pem;
         c.client_key_pem = "nope";
       },
       "client key: cannot read PEM private key"},
      {"token with a newline",
       [](HttpClientConfig& c) { c.bearer_token = "abc\r\nX-Evil: 1"; },
       "bearer token has a control character"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpClientConfig config;
    config.server = "https://127.0.0.1:1";
    c.configure(config);
    auto client = HttpClient::create(config);
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.error().kind, HttpError::Kind::kConfig);
    EXPECT_NE(client.error().message.find(c.error_part), std::string::npos)
        << client.error().message;
  }
}

TEST(HttpClientTls, Ipv6Literal) {
  TestServer::Options o = ServeWith(TestPki().server);
  o.ipv6 = true;
  TestServer server(o, Ok200);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback";
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  auto r = client->get("/v6", In(5000));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(server.heads().size(), 1u);
  EXPECT_NE(server.heads()[0].find(
                "\r\nHost: [::1]:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos);
}

// ---- Requests and responses ------------------------------------------------

TEST(HttpClient, RequestHeaders) {
  TestServer server(ServeWith(TestPki().server), Ok200);
  ASSERT_TRUE(server.ok());
  struct Case {
    std::string token;
    std::string path;
    std::string base;
  };
  const Case cases[] = {{"tok.en-1", "/api/v1/x?a=b", ""},
                        {"", "/api/v1/y", ""},
                        {"t", "/api/v1/z", "/prefix"}};
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    HttpClientConfig config = Trusting(server.url() + c.base);
    config.bearer_token = c.token;
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get(c.path, In(5000));
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::string head = server.heads().at(i++);
    std::string port = std::to_string(server.port());
    EXPECT_EQ(head.substr(0, head.find("\r\n")),
              "GET " + c.base + c.path + " HTTP/1.1");
    EXPECT_NE(head.find("\r\nHost: 127.0.0.1:" + port + "\r\n"),
              std::string::npos);
    EXPECT_NE(head.find("\r\nAccept: application/json"), std::string::npos);
    EXPECT_NE(head.find("\r\nUser-Agent: crio-credential-provider/"),
              std::string::npos);
    EXPECT_EQ(
        (head + "\r\n").find("Authorization: Bearer " + c.token + "\r\n") !=
            std::string::npos,
        !c.token.empty())
        << head;
    EXPECT_EQ(head.find("Authorization") != std::string::npos,
              !c.token.empty());
  }
}

TEST(HttpClient, BodyFramingTable) {
  struct Case {
    std::string name;
    std::string response;  // raw bytes after the request
    int status;
    std::string body;
    std::string header;  // "name=value" expected, or empty
  };
  const Case cases[] = {
      {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
       200, "hello", ""},
      {"chunked with extension and trailer",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  b \r\n\r\n"
       "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
       "Trailer: x\r\n\r\n",
       200, "helloabcdefghijklmnopqrstuvwxyz", "x-a=b"},
      {"100 continue first",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
       "content-length: 2\r\n\r\n{}",
       201, "{}", ""},
      {"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", ""},
      {"read to close",
       "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", 200,
       "until the end", "content-type=text/plain"},
      {"status without reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
       404, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Reply{c.response, true};
                      });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    auto r = client->get("/", In(5000));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->body, c.body);
    if (!c.header.empty()) {
      std::string name = c.header.substr(0, c.header.find('='));
      EXPECT_EQ(r->header(name).value_or("<none>"),
                c.header.substr(c.header.find('=') + 1));
    }
  }
}

TEST(HttpClient, ProtocolErrorsTable) {
  struct Case {
    std::string name;
    std::string response;
    std::size_t max_body;
    HttpError::Kind kind;
    std::string error_part;
  };
  const std::size_t k16MiB = 16u << 20;
  const Case cases[] = {
      {"content-length above 16 MiB",
       "HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n{", k16MiB,
       HttpError::Kind::kProtocol, "exceeds 16 MiB"},
      {"chunked above the cap",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "400\r\n" +
           std::string(1024, 'a') + "\r\n400\r\n" + std::string(1024, 'b') +
           "\r\n0\r\n\r\n",
       1500, HttpError::Kind::kProtocol, "exceeds 1500 bytes"},
      {"read-to-close above the cap",
       "HTTP/1.0 200 OK\r\n\r\n" + std::string(3000, 'c'), 1500,
       HttpError::Kind::kProtocol, "exceeds 1500 bytes"},
      {"bad status line", "HTTP/1.1 OK\r\n\r\n", k16MiB,
       HttpError::Kind::kProtocol, "bad status"},
      {"bad chunk size",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", k16MiB,
       HttpError::Kind::kProtocol, "bad chunk size"},
      {"truncated content-length body",
       "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", k16MiB,
       HttpError::Kind::kTransport, "connection closed by 127.0.0.1"},
      {"closed before a response", "", k16MiB, HttpError::Kind::kTransport,
       "before a complete response"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Reply{c.response, true};
                      });
    ASSERT_TRUE(server.ok());
    HttpClientConfig config = Trusting(server.url());
    config.max_body_bytes = c.max_body;
    auto client = MustCreate(config);
    ASSERT_NE(client, nullptr);
    auto r = client->get("/", In(5000));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, c.kind) << r.error().message;
    EXPECT_NE(r.error().message.find(c.error_part), std::string::npos)
        << r.error().message;
  }
}

// ---- Connections -----------------------------------------------------------

TEST(HttpClient, KeepAliveReusesOneConnection) {
  TestServer server(ServeWith(TestPki().server), Ok200);
  ASSERT_TRUE(server.ok());
  auto client = MustCreate(Trusting(server.url()));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto r = client->get("/n" + std::to_string(i), In(5000));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client->connections_opened(), 1);
  EXPECT_EQ(client->requests_sent(), 3);
  EXPECT_EQ(server.paths(), (std::vector<std::string>{"/n0", "/n1", "/n2"}));
}

TEST(HttpClient, ReconnectsTable) {
  struct Case {
    std::string name;
    Reply first;   // answer to the first request of connection 0
    Reply second;  // answer to a second request on connection 0
    int wait_closed;
    int requests_sent;
  };
  const Reply ok = Respond(200, "OK", "{}");
  Reply ok_close = ok;
  ok_close.close_after = true;
  Reply connection_close = Respond(200, "OK", "{}", "Connection: close\r\n");
  const Case cases[] = {
      // The server closed the idle connection; the client notices first.
      {"closed while idle", ok_close, ok, 1, 2},
      // The server announced the close.
      {"Connection: close", connection_close, ok, 1, 2},
      // The client sent on a connection the server then dropped: resend.
      {"dropped on reuse", ok, Reply{"", false, false, true}, 0, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int conn, int req) {
                        if (conn == 0) return req == 0 ? c.first : c.second;
                        return ok;
                      });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    auto r1 = client->get("/one", In(5000));
    ASSERT_TRUE(r1.ok()) << r1.error().message;
    if (c.wait_closed > 0) {
      ASSERT_TRUE(server.WaitClosed(c.wait_closed));
    }
    auto r2 = client->get("/two", In(5000));
    ASSERT_TRUE(r2.ok()) << r2.error().message;
    EXPECT_EQ(r2->status, 200);
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(client->connections_opened(), 2);
    EXPECT_EQ(client->requests_sent(), c.requests_sent);
  }
}

TEST(HttpClient, DeadlinesTable) {
  struct Case {
    std::string name;
    bool silent;  // TCP accepted, TLS never answered
    std::string during;
  };
  const Case cases[] = {
      {"server never answers the request", false, "waiting for the response"},
      {"server never answers the handshake", true, "TLS handshake"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer::Options o = ServeWith(TestPki().server);
    o.silent = c.silent;
    TestServer server(o, [](const std::string&, int, int) {
      return Reply{"", false, true};
    });
    ASSERT_TRUE(server.ok());
    auto client = MustCreate(Trusting(server.url()));
    ASSERT_NE(client, nullptr);
    auto start = Clock::now();
    auto r = client->get("/", start + milliseconds(300));
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, HttpError::Kind::kTimeout) << r.error().message;
    EXPECT_NE(r.error().message.find(c.during), std::string::npos)
        << r.error().message;
    EXPECT_GE(elapsed, milliseconds(295));
    EXPECT_LT(elapsed, milliseconds(300 + 200));
  }
}

TEST(HttpClient, ConnectionRefused) {
  HttpClientConfig config =
      Trusting("https://127.0.0.1:" + std::to_string(ClosedPort()));
  auto client = MustCreate(config);
  ASSERT_NE(client, nullptr);
  auto r = client->get("/", In(2000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, HttpError::Kind::kTransport);
  EXPECT_NE(r.error().message.find("Connection refused"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(client->requests_sent(), 0);
}

// ---- The Kubernetes API client ---------------------------------------------

ApiConfig ApiTo(const TestServer& server, int timeout_ms = 10000) {
  ApiConfig c;
  c.server = server.url();
  c.ca_pem = TestPki().ca.cert_pem;
  c.bearer_token = "secret-token-value";
  c.timeout = milliseconds(timeout_ms);
  return c;
}

TEST(ApiSession, GetPodAndServiceAccount) {
  TestServer server(ServeWith(TestPki().server),
                    [](const std::string& head, int, int) {
                      if (head.find("/pods/") != std::string::npos) {
                        return Respond(200, "OK", R"({"kind":"Pod",
                          "metadata":{"name":"p","uid":"u-1"},
                          "spec":{"nodeName":"node1","serviceAccountName":"sa",
                          "imagePullSecrets":[{"name":"a"},{},{"name":"b"}]}})");
                      }
                      return Respond(200, "OK", R"({"kind":"ServiceAccount",
                        "imagePullSecrets":[{"name":"c"}]})");
                    });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));
  auto pod = api.get_pod("team-a", "web-0");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->uid, "u-1");
  EXPECT_EQ(pod->node_name, "node1");
  EXPECT_EQ(pod->service_account, "sa");
  EXPECT_EQ(pod->image_pull_secrets, (std::vector<std::string>{"a", "b"}));
  auto sa = api.get_service_account_pull_secrets("team-a", "sa");
  ASSERT_TRUE(sa.ok()) << sa.error().message;
  EXPECT_EQ(*sa, std::vector<std::string>{"c"});
  EXPECT_EQ(server.paths(),
            (std::vector<std::string>{
                "/api/v1/namespaces/team-a/pods/web-0",
                "/api/v1/namespaces/team-a/serviceaccounts/sa"}));
  EXPECT_EQ(api.requests(), 2);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_NE((server.heads()[0] + "\r\n")
                .find("\r\nAuthorization: Bearer secret-token-value\r\n"),
            std::string::npos);
}

TEST(ApiSession, SecretsTable) {
  const std::string cfgjson =
      R"({"auths":{"mirror.example.com":{"auth":"dXNlcjpwYXNz"}}})";
  const std::string cfg = R"({"mirror.example.com":{"auth":"dXNlcjpwYXNz"}})";
  TestServer server(
      ServeWith(TestPki().server), [&](const std::string& head, int, int) {
        std::string line = head.substr(0, head.find("\r\n"));
        if (line.find("dockerconfigjson ") != std::string::npos) {
          return Respond(200, "OK",
                         R"({"kind":"SecretList","items":[
              {"metadata":{"name":"s1"},"type":"kubernetes.io/dockerconfigjson",
               "data":{".dockerconfigjson":")" +
                             base64_encode(cfgjson) + R"("}},
              {"metadata":{"name":"s2"},"type":"kubernetes.io/dockerconfigjson",
               "data":{}},
              {"metadata":{"name":"s3"},"type":"kubernetes.io/dockerconfigjson",
               "data":{".dockerconfigjson":"%%not base64%%"}}]})");
        }
        if (line.find("dockercfg ") != std::string::npos) {
          return Respond(200, "OK",
                         R"({"kind":"SecretList","items":[
              {"metadata":{"name":"old"},"type":"kubernetes.io/dockercfg",
               "data":{".dockercfg":")" +
                             base64_encode(cfg) + R"("}}]})");
        }
        if (line.find("/secrets/gone ") != std::string::npos) {
          return Respond(
              404, "Not Found",
              StatusBody(404, "NotFound", R"(secrets \"gone\" not found)"));
        }
        if (line.find("/secrets/bad ") != std::string::npos) {
          return Respond(200, "OK", R"({"metadata":{"name":"bad"},
              "type":"kubernetes.io/dockerconfigjson",
              "data":{".dockerconfigjson":"!!!"}})");
        }
        return Respond(200, "OK",
                       R"({"metadata":{"name":"one"},
            "type":"kubernetes.io/dockerconfigjson",
            "data":{".dockerconfigjson":")" +
                           base64_encode(cfgjson) + R"("}})");
      });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server));

  auto list = api.list_pull_secrets("ns1");
  ASSERT_TRUE(list.ok()) << list.error().message;
  struct Want {
    std::string name, type, config;
  };
  const Want want[] = {
      {"s1", "kubernetes.io/dockerconfigjson", cfgjson},
      {"s2", "kubernetes.io/dockerconfigjson", ""},
      {"s3", "kubernetes.io/dockerconfigjson", ""},
      {"old", "kubernetes.io/dockercfg", cfg},
  };
  ASSERT_EQ(list->size(), std::size(want));
  for (std::size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ((*list)[i].name, want[i].name);
    EXPECT_EQ((*list)[i].type, want[i].type);
    EXPECT_EQ((*list)[i].config, want[i].config);
  }

  auto one = api.get_secret("ns1", "one");
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->name, "one");
  EXPECT_EQ((*one)->config, cfgjson);

  auto gone = api.get_secret("ns1", "gone");
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_FALSE(gone->has_value());

  // Data that is not base64 reads as a missing key: the caller skips it.
  auto bad = api.get_secret("ns1", "bad");
  ASSERT_TRUE(bad.ok()) << bad.error().message;
  ASSERT_TRUE(bad->has_value());
  EXPECT_EQ((*bad)->name, "bad");
  EXPECT_EQ((*bad)->type, "kubernetes.io/dockerconfigjson");
  EXPECT_EQ((*bad)->config, "");

  auto encoded = api.get_secret("ns1", "we ird/na%me");
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;

  EXPECT_EQ(
      server.paths(),
      (std::vector<std::string>{
          "/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%"
          "2Fdockerconfigjson",
          "/api/v1/namespaces/ns1/secrets?fieldSelector=type%3Dkubernetes.io%"
          "2Fdockercfg",
          "/api/v1/namespaces/ns1/secrets/one",
          "/api/v1/namespaces/ns1/secrets/gone",
          "/api/v1/namespaces/ns1/secrets/bad",
          "/api/v1/namespaces/ns1/secrets/we%20ird%2Fna%25me",
      }));
  EXPECT_EQ(api.requests(), 6);
  EXPECT_EQ(server.connections(), 1);
}

TEST(ApiSession, StatusAndRetryTable) {
  struct Case {
    std::string name;
    std::vector<Reply> replies;  // one per request, in order
    bool ok;
    int requests;
    int status;
    std::string reason;
    std::string message_part;
    int min_ms;  // the backoff the client must have waited
  };
  const Reply ok = Respond(200, "OK", R"({"metadata":{"uid":"u"}})");
  const Reply e500 =
      Respond(500, "Internal Server Error",
              StatusBody(500, "InternalError", "etcd is unhappy"));
  const Reply e503 = Respond(503, "Service Unavailable", "<html>busy</html>");
  const Reply e429 = Respond(429, "Too Many Requests",
                             StatusBody(429, "TooManyRequests", "slow down"),
                             "Retry-After: 1\r\n");
  const Reply e429_long = Respond(429, "Too Many Requests",
                                  StatusBody(429, "TooManyRequests", "wait"),
                                  "Retry-After: 3600\r\n");
  const Reply e403 = Respond(
      403, "Forbidden",
      StatusBody(403, "Forbidden",
                 R"(pods \"web-0\" is forbidden: User \"system:serviceaccount:)"
                 R"(team-a:default\" cannot get resource \"pods\")"));
  const Reply e401 = Respond(401, "Unauthorized",
                             StatusBody(401, "Unauthorized", "Unauthorized"));
  const Case cases[] = {
      {"200", {ok}, true, 1, 0, "", "", 0},
      {"429 Retry-After then 200", {e429, ok}, true, 2, 0, "", "", 1000},
      {"503 then 200", {e503, ok}, true, 2, 0, "", "", 100},
      {"500 three times",
       {e500, e500, e500},
       false,
       3,
       500,
       "InternalError",
       "etcd is unhappy",
       500},
      {"503 without Status",
       {e503, e503, e503},
       false,
       3,
       503,
       "",
       "HTTP 503 Service Unavailable",
       500},
      {"403 not retried",
       {e403, ok},
       false,
       1,
       403,
       "Forbidden",
       "cannot get resource \"pods\"",
       0},
      {"401 not retried",
       {e401, ok},
       false,
       1,
       401,
       "Unauthorized",
       "Unauthorized",
       0},
      {"429 Retry-After beyond the budget",
       {e429_long, ok},
       false,
       1,
       429,
       "TooManyRequests",
       "wait",
       0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::atomic<int> n{0};
    TestServer server(
        ServeWith(TestPki().server), [&](const std::string&, int, int) {
          int i = n++;
          return i < static_cast<int>(c.replies.size()) ? c.replies[i] : ok;
        });
    ASSERT_TRUE(server.ok());
    ApiSession api(ApiTo(server, 5000));
    auto start = Clock::now();
    auto pod = api.get_pod("team-a", "web-0");
    auto elapsed = Clock::now() - start;
    EXPECT_EQ(api.requests(), c.requests);
    EXPECT_EQ(n.load(), c.requests);
    EXPECT_GE(elapsed, milliseconds(c.min_ms));
    EXPECT_LT(elapsed, milliseconds(c.min_ms + 1000));
    ASSERT_EQ(pod.ok(), c.ok) << (pod.ok() ? "" : pod.error().message);
    if (c.ok) {
      EXPECT_EQ(pod->uid, "u");
      continue;
    }
    const ApiError& e = pod.error();
    EXPECT_EQ(e.kind, ApiError::Kind::kHttp);
    EXPECT_EQ(e.status, c.status);
    EXPECT_EQ(e.reason, c.reason);
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("secret-token-value"), std::string::npos);
    EXPECT_EQ(e.verb, "get");
    EXPECT_EQ(e.resource, "pods");
    EXPECT_EQ(e.ns, "team-a");
    EXPECT_EQ(e.name, "web-0");
  }
}

TEST(ApiSession, FailuresTable) {
  const Pki& pki = TestPki();
  struct Case {
    std::string name;
    bool refused;   // nothing listens
    bool hang;      // the server never answers
    bool wrong_ca;  // the client trusts another CA
    bool bad_url;
    int timeout_ms;
    ApiError::Kind kind;
    std::string message_part;
    int min_ms, max_ms;
    int server_connections;
  };
  const Case cases[] = {
      {"connection refused", true, false, false, false, 5000,
       ApiError::Kind::kTransport, "Connection refused (3 attempts)", 500, 1000,
       0},
      {"server never answers", false, true, false, false, 400,
       ApiError::Kind::kTimeout, "timed out waiting for the response", 400, 600,
       1},
      {"TLS failure not retried", false, false, true, false, 5000,
       ApiError::Kind::kTls, "certificate verify failed", 0, 300, 1},
      {"bad server URL", false, false, false, true, 5000,
       ApiError::Kind::kConfig, "only https:// is supported", 0, 100, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(pki.server), [&](const std::string&, int, int) {
      return c.hang ? Reply{"", false, true} : Ok200("", 0, 0);
    });
    ASSERT_TRUE(server.ok());
    ApiConfig config = ApiTo(server, c.timeout_ms);
    if (c.refused) {
      config.server = "https://127.0.0.1:" + std::to_string(ClosedPort());
    }
    if (c.wrong_ca) config.ca_pem = pki.other_ca.cert_pem;
    if (c.bad_url) config.server = "http://127.0.0.1:1";
    auto start = Clock::now();
    ApiSession api(config);
    auto secret = api.get_secret("ns1", "s");
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(secret.ok());
    const ApiError& e = secret.error();
    EXPECT_EQ(e.kind, c.kind) << e.message;
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("secret-token-value"), std::string::npos);
    EXPECT_EQ(e.verb, "get");
    EXPECT_EQ(e.resource, "secrets");
    EXPECT_EQ(e.ns, "ns1");
    EXPECT_EQ(e.name, "s");
    EXPECT_GE(elapsed, milliseconds(c.min_ms));
    EXPECT_LT(elapsed, milliseconds(c.max_ms));
    EXPECT_EQ(server.connections(), c.server_connections);
  }
}

TEST(ApiSession, BudgetIsSharedAcrossCalls) {
  std::atomic<int> n{0};
  TestServer server(ServeWith(TestPki().server),
                    [&](const std::string&, int, int) {
                      if (n++ == 0) {
                        std::this_thread::sleep_for(milliseconds(300));
                        return Respond(200, "OK", "{}");
                      }
                      return Reply{"", false, true};
                    });
  ASSERT_TRUE(server.ok());
  ApiSession api(ApiTo(server, 500));
  auto start = Clock::now();
  auto first = api.get_service_account_pull_secrets("ns1", "default");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = api.get_service_account_pull_secrets("ns1", "default");
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ApiError::Kind::kTimeout);
  EXPECT_GE(elapsed, milliseconds(480));
  EXPECT_LT(elapsed, milliseconds(700));
  // Once spent, later calls fail at once without a request.
  auto third = api.get_pod("ns1", "p");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().kind, ApiError::Kind::kTimeout);
  EXPECT_EQ(api.requests(), 2);
}

TEST(ApiSession, DecodeErrorsTable) {
  struct Case {
    std::string name;
    std::string body;
    std::string message_part;
  };
  const Case cases[] = {
      {"not JSON", "<html>", "not valid JSON"},
      {"not an object", "[1,2]", "not a JSON object"},
      {"pull secrets not a list",
       R"({"spec":{"imagePullSecrets":{"name":"a"}}})",
       "spec.imagePullSecrets is not a list"},
      {"nodeName not a string", R"({"spec":{"nodeName":7}})",
       "spec.nodeName is not a string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestServer server(ServeWith(TestPki().server),
                      [&](const std::string&, int, int) {
                        return Respond(200, "OK", c.body);
                      });
    ASSERT_TRUE(server.ok());
    ApiSession api(ApiTo(server));
    auto pod = api.get_pod("ns1", "p");
    ASSERT_FALSE(pod.ok());
    EXPECT_EQ(pod.error().kind, ApiError::Kind::kDecode);
    EXPECT_NE(pod.error().message.find(c.message_part), std::string::npos)
        << pod.error().message;
    EXPECT_EQ(api.requests(), 1);
  }
}

TEST(ApiSession, NodeIdentityWithClientCertificate) {
  const Pki& pki = TestPki();
  TestServer::Options o = ServeWith(pki.server);
  o.client_ca = &pki.client_ca;
  TestServer server(o, [](const std::string&, int, int) {
    return Respond(200, "OK", R"({"spec":{"nodeName":"node1"}})");
  });
  ASSERT_TRUE(server.ok());
  ApiConfig config = ApiTo(server);
  config.bearer_token.clear();
  config.client_cert_pem = pki.client.cert_pem;
  config.client_key_pem = pki.client.key_pem;
  ApiSession api(config);
  auto pod = api.get_pod("ns1", "p");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->node_name, "node1");
  EXPECT_EQ(server.client_cns(), std::vector<std::string>{"system:node:node1"});
  EXPECT_EQ(server.heads()[0].find("Authorization"), std::string::npos);
}

}  // namespace
