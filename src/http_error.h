// The error every layer of the HTTPS client (url, tls, http) returns.
#pragma once

#include <string>

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
