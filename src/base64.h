// Base64 as Kubernetes and container auth files use it (RFC 4648), and the
// unpadded URL-safe variant JWTs use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

std::string base64_encode(std::string_view data);

// Standard alphabet; padding optional; no whitespace. nullopt when invalid.
std::optional<std::string> base64_decode(std::string_view text);

// URL-safe alphabet ("-_"), padding optional (RFC 7515 section 2).
std::optional<std::string> base64url_decode(std::string_view text);
