// A minimal HTTPS/1.1 client over OpenSSL 3: GET only, one kept-alive
// connection to one server, every step bounded by a deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

struct HttpError {
  enum class Kind {
    kConfig,     // bad URL, unreadable CA, bad client certificate or key
    kTransport,  // DNS, connect, reset, connection closed early
    kTls,        // handshake or certificate verification failed, TLS alert
    kTimeout,    // the deadline passed
    kProtocol,   // malformed response, or body larger than the cap
  };
  Kind kind;
  // One line, never holds the token, a header value or body data.
  std::string message;
};

template <class T>
using HttpResult = Result<T, HttpError>;

// "https://host[:port][/base/path]"; host may be a name, an IPv4 literal or
// a bracketed IPv6 literal ("[::1]").
struct HttpUrl {
  std::string host;  // without brackets, lower case
  int port = 443;
  std::string base_path;  // "" or "/prefix" without a trailing slash
  bool ip_literal = false;
  bool ipv6 = false;
  // Host header value: host, [v6] bracketed, ":port" unless 443.
  std::string authority() const;
  // "host:port" / "[v6]:port", for messages.
  std::string host_port() const;
};
HttpResult<HttpUrl> parse_https_url(std::string_view url);

struct HttpClientConfig {
  std::string server;  // see HttpUrl
  // Trust anchors: ca_file and/or ca_pem; both empty: the system defaults.
  std::string ca_file;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Optional client certificate (leaf first, then chain) and key, PEM.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Sent as "Authorization: Bearer <token>" when not empty.
  std::string bearer_token;
  std::size_t max_body_bytes = 16u << 20;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  // In arrival order; names lower-cased, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First value of the header `name` (any case), if present.
  std::optional<std::string> header(std::string_view name) const;
};

// Holds at most one connection and reuses it across requests; reconnects
// transparently when the server closed it. Not thread-safe.
class HttpClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Validates the URL and builds the TLS context (CA, client identity);
  // errors are kConfig. No network access.
  static HttpResult<std::unique_ptr<HttpClient>> create(
      HttpClientConfig config);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET base_path + path_and_query (which starts with '/'). Any complete
  // response is a success, whatever its status.
  HttpResult<HttpResponse> get(std::string_view path_and_query,
                               Clock::time_point deadline);

  // Closes the connection, if any.
  void close();
  // TCP connections opened so far.
  int connections_opened() const;
  // Requests sent so far (a transparent resend counts twice).
  int requests_sent() const;
  const HttpUrl& url() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};
