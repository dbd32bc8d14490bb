#include "openssl_error.h"

#include <openssl/err.h>

std::string openssl_reason(unsigned long code) {
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string openssl_error() {
  unsigned long first = ERR_get_error();
  while (ERR_get_error() != 0) {
  }
  return openssl_reason(first);
}
