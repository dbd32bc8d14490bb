// An HTTPS/1.1 client for GETs to one server, over Boost.Beast, Asio and
// OpenSSL. Beast does the HTTP framing; this file keeps our policy: TLS
// verification (tls.h), the deadline on every step, the body cap, never
// following redirects (a 3xx is returned like any other status), and one
// resend on a kept-alive connection the server had already dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_error.h"
#include "http_response.h"
#include "tls.h"
#include "url.h"

struct HttpClientConfig : TlsConfig {
  std::string server;  // see HttpUrl
  // Sent as "Authorization: Bearer <token>" when not empty.
  std::string bearer_token;
  std::size_t max_body_bytes = 16u << 20;
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

  // POSTs json_body (Content-Type: application/json) to base_path +
  // path_and_query, for requests that only read (a SelfSubjectReview). Never
  // resent: a stale kept-alive connection is an error, not a retry.
  HttpResult<HttpResponse> post(std::string_view path_and_query,
                                std::string json_body,
                                Clock::time_point deadline);

  // GETs every path over the one connection with HTTP/1.1 pipelining: all
  // requests are written before any response is read, and the server
  // answers them in order (RFC 9112 section 9.3.2; Go's net/http, and so
  // kube-apiserver, does), so reads that do not depend on each other cost
  // one round trip together. When the server closes the connection or
  // fails a response before answering them all, the rest are sent one at a
  // time as get() sends them. One result per path, in order.
  std::vector<HttpResult<HttpResponse>> get_pipelined(
      const std::vector<std::string>& paths_and_queries,
      Clock::time_point deadline);

  // TCP connections opened so far.
  int connections_opened() const;
  // Requests sent so far (a transparent resend counts twice).
  int requests_sent() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};
