#include "reference.h"

#include <algorithm>

#include "text.h"

namespace {

constexpr size_t kNameTotalLengthMax = 255;
constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }

// path-component := alnum+ (separator alnum+)*, separator := [._] | __ | -+
bool IsPathComponent(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back()))
    return false;
  size_t i = 0;
  while (i < s.size()) {
    if (IsLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !IsLowerAlnum(s[j])) ++j;
    std::string_view sep = s.substr(i, j - i);
    bool dashes =
        std::all_of(sep.begin(), sep.end(), [](char c) { return c == '-'; });
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

bool IsPath(std::string_view s) {
  while (true) {
    size_t slash = s.find('/');
    if (!IsPathComponent(s.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

// domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool IsDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-'; });
}

// domain := domain-component ('.' domain-component)* (':' [0-9]+)?
bool IsDomain(std::string_view s) {
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    std::string_view port = s.substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(), IsDigit))
      return false;
    s = s.substr(0, colon);
  }
  while (true) {
    size_t dot = s.find('.');
    if (!IsDomainComponent(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// tag := [\w][\w.-]{0,127}
bool IsTag(std::string_view s) {
  if (s.empty() || s.size() > 128 || !IsWord(s.front())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsWord(c) || c == '.' || c == '-'; });
}

// The digest grammar of the reference regexp, then go-digest's validation:
// only sha256, sha384 and sha512, with lowercase hex of the exact length.
Result<Ok> CheckDigest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return Error{"invalid reference format"};
  std::string_view algorithm = s.substr(0, colon);
  std::string_view hex = s.substr(colon + 1);
  // algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*
  bool need_letter = true;
  for (char c : algorithm) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (need_letter) {
      if (!letter) return Error{"invalid reference format"};
      need_letter = false;
    } else if (c == '-' || c == '_' || c == '+' || c == '.') {
      need_letter = true;
    } else if (!IsAlnum(c)) {
      return Error{"invalid reference format"};
    }
  }
  if (need_letter || hex.size() < 32 ||
      !std::all_of(hex.begin(), hex.end(), IsHex))
    return Error{"invalid reference format"};
  size_t want = algorithm == "sha256"   ? 64
                : algorithm == "sha384" ? 96
                : algorithm == "sha512" ? 128
                                        : 0;
  if (want == 0)
    return Error{"unsupported digest algorithm \"" + std::string(algorithm) +
                 "\""};
  if (hex.size() != want || !std::all_of(hex.begin(), hex.end(), IsLowerHex))
    return Error{"invalid checksum digest length or format"};
  return Ok{};
}

// reference.Parse: name [":" tag] ["@" digest], no normalization.
Result<Reference> Parse(std::string_view s) {
  if (s.empty())
    return Error{"repository name must have at least one component"};
  Reference ref;
  std::string_view rest = s;
  size_t at = rest.find('@');
  std::string_view digest;
  if (at != std::string_view::npos) {
    digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  size_t last_colon = rest.rfind(':');
  size_t last_slash = rest.rfind('/');
  std::string_view tag;
  bool has_tag = false;
  if (last_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || last_colon > last_slash)) {
    tag = rest.substr(last_colon + 1);
    rest = rest.substr(0, last_colon);
    has_tag = true;
  }
  std::string_view name = rest;
  // The domain is the first component if it is a valid domain and the rest
  // a valid path; otherwise the whole name must be a path.
  size_t first_slash = name.find('/');
  if (first_slash != std::string_view::npos &&
      IsDomain(name.substr(0, first_slash)) &&
      IsPath(name.substr(first_slash + 1))) {
    ref.domain = std::string(name.substr(0, first_slash));
    ref.path = std::string(name.substr(first_slash + 1));
  } else if (IsPath(name)) {
    ref.path = std::string(name);
  } else {
    std::string lower = ascii_lower(s);
    if (lower != s && Parse(lower).ok())
      return Error{"repository name must be lowercase"};
    return Error{"invalid reference format"};
  }
  if (has_tag && !IsTag(tag)) return Error{"invalid reference format"};
  if (at != std::string_view::npos) {
    auto checked = CheckDigest(digest);
    if (!checked) return checked.error();
  }
  if (name.size() > kNameTotalLengthMax)
    return Error{"repository name must not be more than 255 characters"};
  ref.tag = std::string(tag);
  ref.digest = std::string(digest);
  return ref;
}

bool IsIdentifier(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), IsLowerHex);
}

}  // namespace

std::string Reference::name() const {
  return domain.empty() ? path : domain + "/" + path;
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> parse_reference(std::string_view text) { return Parse(text); }

bool is_domain(std::string_view text) { return IsDomain(text); }

Result<Reference> parse_normalized_named(std::string_view text) {
  auto fail = [&](const std::string& why) -> Result<Reference> {
    return Error{"invalid image reference \"" + std::string(text) +
                 "\": " + why};
  };
  if (IsIdentifier(text))
    return fail("cannot specify 64-byte hexadecimal strings");
  // Split off the domain as the docker CLI does: the first component is a
  // domain only if it has a '.' or ':' or is "localhost".
  std::string_view domain = kDefaultDomain;
  std::string_view remainder = text;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = text.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos ||
        first == "localhost") {
      domain = first;
      remainder = text.substr(slash + 1);
    }
  }
  if (domain == kLegacyDefaultDomain) domain = kDefaultDomain;
  std::string full(domain);
  full += '/';
  if (domain == kDefaultDomain && remainder.find('/') == std::string_view::npos)
    full += kOfficialRepoPrefix;
  full += remainder;
  std::string_view remote = remainder.substr(0, remainder.find(':'));
  if (std::any_of(remote.begin(), remote.end(),
                  [](char c) { return c >= 'A' && c <= 'Z'; }))
    return fail("repository name must be lowercase");
  auto parsed = Parse(full);
  if (!parsed) return fail(parsed.error().message);
  return parsed;
}

Result<Reference> parse_named(std::string_view text) {
  auto parsed = parse_normalized_named(text);
  if (!parsed) return parsed;
  if (parsed->str() != text)
    return Error{"invalid image reference \"" + std::string(text) +
                 "\": repository name must be canonical"};
  return parsed;
}
