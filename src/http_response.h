// Reading one HTTP/1.1 response off a connection. Boost.Beast's parser does
// the framing; this file keeps our policy on what it parsed: the body cap,
// at most a few interim (1xx) responses, 2xx bodies only with length
// framing, no 101, and two shims for what Beast 1.74 gets wrong or refuses
// (http_response.cc says which and why). The bytes come from a callback, so the
// same loop reads a TLS connection (http.cc) and a fuzzer's input
// (fuzz/http_fuzz.cc).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_error.h"

struct HttpResponse {
  int status = 0;
  std::string reason;
  // In arrival order; names lower-cased, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First value of the header `name` (any case), if present.
  std::optional<std::string> header(std::string_view name) const;
};

// What one read from the connection gave: some bytes, or an error (already
// in our terms: a timeout, a TLS alert, a reset); neither is the end of the
// stream.
struct ReadChunk {
  std::size_t bytes = 0;
  std::optional<HttpError> error;
};
// Reads at most `capacity` bytes into `into`; blocks until it has some.
// `during` names the step ("waiting for the response") for an error.
using ReadSome = std::function<ReadChunk(char* into, std::size_t capacity,
                                         std::string_view during)>;

struct ResponseLimits {
  std::size_t max_body_bytes = 16u << 20;
  // The server's host:port, for messages.
  std::string peer;
};

// How the connection stands after a response.
struct ResponseEnd {
  // The server closed (or reset) the connection before sending a byte of
  // this response: on a kept-alive connection, a request the server never
  // saw, safe to resend.
  bool nothing_read = false;
  // The connection may carry the next response.
  bool keep_alive = false;
};

// Reads one final response, skipping interim (1xx) ones. `pending` holds
// bytes read but not yet parsed; what follows the response stays there
// (the next pipelined response).
HttpResult<HttpResponse> read_response(std::string& pending,
                                       const ReadSome& read_some,
                                       const ResponseLimits& limits,
                                       ResponseEnd* end);

// Headers larger than this are refused (Go's client allows 1 MiB; real API
// servers send a few hundred bytes).
constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
// Interim (1xx) responses accepted before the final one. Each is cheap to
// send, so without a cap a server could keep us reading them until the
// deadline; a real server sends one or two.
constexpr int kMaxInterimResponses = 5;
