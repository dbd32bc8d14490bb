// SHA-256 (FIPS 180-4), for auth-file names. Our own small implementation:
// the first digest through OpenSSL 3 initialises its provider machinery,
// which costs more than everything else a no-mirror invocation does.
#pragma once

#include <string>
#include <string_view>

// Lowercase hex of the SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
