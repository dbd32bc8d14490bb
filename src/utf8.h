// UTF-8 decoding as Go's unicode/utf8 does it, shared by kubelet's glob
// matching (src/keyring.cc) and log escaping (src/log.cc).
#pragma once

#include <cstddef>
#include <string_view>

constexpr char32_t kRuneError = 0xfffd;

// Go's utf8.DecodeRuneInString at s[i] (i < s.size()), advancing i: an
// invalid or truncated sequence, an overlong form or a surrogate decodes as
// kRuneError and advances one byte.
char32_t decode_rune(std::string_view s, std::size_t& i);
