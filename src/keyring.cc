#include "keyring.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "utf8.h"

namespace {

// The parts of Go's url.Parse that kubelet's matching depends on.
struct Url {
  std::string host;  // with port, brackets kept
  std::string path;  // percent-decoded
};

bool IsCtl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> Unescape(std::string_view s, bool host) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      // Go allows escapes in a host only for non-ASCII bytes and "%25".
      char decoded = static_cast<char>(hi * 16 + lo);
      if (host && static_cast<unsigned char>(decoded) < 0x80 && decoded != '%')
        return std::nullopt;
      out.push_back(decoded);
      i += 2;
      continue;
    }
    if (host && static_cast<unsigned char>(c) < 0x80) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') ||
                std::string_view("-_.~!$&'()*+,;=:[]<>\"").find(c) !=
                    std::string_view::npos;
      if (!ok) return std::nullopt;
    }
    out.push_back(c);
  }
  return out;
}

bool ValidPort(std::string_view colon_port) {
  if (colon_port.empty()) return true;
  if (colon_port[0] != ':') return false;
  return std::all_of(colon_port.begin() + 1, colon_port.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// netip.ParseAddr accepting only IPv6, with an optional non-empty zone
// ("%25" escaped).
bool IsIpv6Literal(std::string_view escaped) {
  size_t zone = escaped.find("%25");
  auto address = Unescape(escaped.substr(0, zone), true);
  if (!address) return false;
  if (zone != std::string_view::npos) {
    auto zone_text = Unescape(escaped.substr(zone + 3), false);
    if (!zone_text || zone_text->empty()) return false;
  }
  in6_addr parsed;
  return ::inet_pton(AF_INET6, address->c_str(), &parsed) == 1;
}

// url.Parse("https://" + rest) restricted to what matters here.
std::optional<Url> ParseHttpsUrl(std::string_view rest) {
  if (std::any_of(rest.begin(), rest.end(), IsCtl)) return std::nullopt;
  rest = rest.substr(0, rest.find('#'));
  rest = rest.substr(0, rest.find('?'));
  size_t end = rest.find('/');
  std::string_view authority = rest.substr(0, end);
  std::string_view path =
      end == std::string_view::npos ? std::string_view() : rest.substr(end);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    for (char c : userinfo) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') ||
                std::string_view("-._:~!$&'()*+,;=%@").find(c) !=
                    std::string_view::npos;
      if (!ok) return std::nullopt;
    }
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  // Go >= 1.25.2 (CVE-2025-47912): brackets only around an IPv6 literal;
  // Go 1.26: one colon at most in an http(s) host.
  size_t open = host.rfind('[');
  if (open == 0) {
    size_t close = host.rfind(']');
    if (close == std::string_view::npos) return std::nullopt;
    if (!ValidPort(host.substr(close + 1))) return std::nullopt;
    if (!IsIpv6Literal(host.substr(1, close - 1))) return std::nullopt;
  } else if (open != std::string_view::npos) {
    return std::nullopt;
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    if (!ValidPort(host.substr(colon))) return std::nullopt;
  }
  auto unescaped_host = Unescape(host, true);
  auto unescaped_path = Unescape(path, false);
  if (!unescaped_host || !unescaped_path) return std::nullopt;
  return Url{*unescaped_host, *unescaped_path};
}

// net.SplitHostPort, falling back to (host, "") on error as kubelet does.
std::pair<std::string, std::string> SplitHostPort(const std::string& hostport) {
  std::string host, port;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return {hostport, ""};
    if (close + 1 == hostport.size() || hostport[close + 1] != ':')
      return {hostport, ""};
    host = hostport.substr(1, close - 1);
    port = hostport.substr(close + 2);
    if (host.find_first_of("[]") != std::string::npos ||
        port.find_first_of("[]") != std::string::npos)
      return {hostport, ""};
    return {host, port};
  }
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return {hostport, ""};
  host = hostport.substr(0, colon);
  if (host.find(':') != std::string::npos) return {hostport, ""};
  if (host.find_first_of("[]") != std::string::npos) return {hostport, ""};
  port = hostport.substr(colon + 1);
  if (port.find_first_of("[]") != std::string::npos) return {hostport, ""};
  return {host, port};
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

bool UrlsMatch(std::string_view glob, std::string_view target) {
  auto g = ParseHttpsUrl(glob);
  auto t = ParseHttpsUrl(target);
  if (!g || !t) return false;
  auto [ghost, gport] = SplitHostPort(g->host);
  auto [thost, tport] = SplitHostPort(t->host);
  if (gport != tport) return false;
  // Before splitting: a key of a million labels costs nothing to reject.
  if (std::count(ghost.begin(), ghost.end(), '.') !=
      std::count(thost.begin(), thost.end(), '.'))
    return false;
  auto gparts = Split(ghost, '.');
  auto tparts = Split(thost, '.');
  if (gparts.size() != tparts.size()) return false;
  if (!t->path.starts_with(g->path)) return false;
  for (size_t i = 0; i < gparts.size(); ++i)
    if (!glob_match(gparts[i], tparts[i])) return false;
  return true;
}

// The name a glob is matched against, decoded once. Go's `*` skips bytes,
// so matching may resume inside a multi-byte rune: every byte offset has
// the rune that decodes there, as an index into the name's distinct runes.
struct GlobName {
  std::string_view text;
  std::vector<char32_t> runes;  // sorted, distinct
  std::vector<uint32_t> rune_at;
  std::vector<uint8_t> size_at;
};

// Without `with_runes` only the text is kept: enough for a pattern with
// no '?' and no class.
GlobName DecodeName(std::string_view text, bool with_runes) {
  GlobName name{text, {}, {}, {}};
  if (!with_runes) return name;
  std::vector<char32_t> decoded(text.size());
  name.size_at.resize(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    size_t next = i;
    decoded[i] = decode_rune(text, next);
    name.size_at[i] = static_cast<uint8_t>(next - i);
  }
  name.runes = decoded;
  std::sort(name.runes.begin(), name.runes.end());
  name.runes.erase(std::unique(name.runes.begin(), name.runes.end()),
                   name.runes.end());
  name.rune_at.resize(text.size());
  for (size_t i = 0; i < text.size(); ++i)
    name.rune_at[i] =
        std::lower_bound(name.runes.begin(), name.runes.end(), decoded[i]) -
        name.runes.begin();
  return name;
}

// A glob is compiled one chunk at a time, as Go's filepath.Match splits it:
// optional stars, then the elements up to the next star outside a class.
// Each element consumes at least one byte of the name. A class is compiled
// to the set of the name's runes it holds, so a class of any size costs
// one pass over its text and a bit test per name position.
struct GlobElement {
  enum class Kind : unsigned char { kByte, kAnyRune, kClass } kind;
  bool negated = false;
  char byte = 0;
  size_t bits = 0;  // a class's first word in GlobChunk::class_bits
};

struct GlobChunk {
  std::vector<GlobElement> elements;
  std::vector<uint64_t> class_bits;  // per class, one bit per name rune
  size_t words = 0;                  // per class
};

// Go's scanChunk: skips leading stars, returns the chunk's end.
size_t ScanChunk(std::string_view pattern, size_t p, bool& star) {
  star = false;
  while (p < pattern.size() && pattern[p] == '*') {
    star = true;
    ++p;
  }
  bool in_class = false;
  for (; p < pattern.size(); ++p) {
    char c = pattern[p];
    if (c == '\\') {
      if (p + 1 < pattern.size()) ++p;
    } else if (c == '[') {
      in_class = true;
    } else if (c == ']') {
      in_class = false;
    } else if (c == '*' && !in_class) {
      break;
    }
  }
  return p;
}

// Go's getEsc: one class bound, optionally escaped; something must follow.
bool ReadClassBound(std::string_view chunk, size_t& p, char32_t& out) {
  if (p >= chunk.size() || chunk[p] == '-' || chunk[p] == ']') return false;
  if (chunk[p] == '\\' && ++p >= chunk.size()) return false;
  size_t start = p;
  out = decode_rune(chunk, p);
  if (out == kRuneError && p - start == 1) return false;  // invalid UTF-8
  return p < chunk.size();
}

// Sets the bits of the name's runes in [lo, hi].
void AddRange(GlobChunk& chunk, size_t first_word, const GlobName& name,
              char32_t lo, char32_t hi) {
  size_t from = std::lower_bound(name.runes.begin(), name.runes.end(), lo) -
                name.runes.begin();
  size_t to = std::upper_bound(name.runes.begin(), name.runes.end(), hi) -
              name.runes.begin();
  for (size_t bit = from; bit < to;) {
    size_t offset = bit % 64;
    size_t count = std::min<size_t>(64 - offset, to - bit);
    uint64_t mask =
        count == 64 ? ~uint64_t{0} : ((uint64_t{1} << count) - 1) << offset;
    chunk.class_bits[first_word + bit / 64] |= mask;
    bit += count;
  }
}

// Parses one chunk with Go's matchChunk grammar (the stars already
// stripped). Returns the number of elements, or nullopt for a bad pattern;
// compiles it against `name` into `out` when given one.
std::optional<size_t> ParseChunk(std::string_view chunk, const GlobName* name,
                                 GlobChunk* out) {
  if (out) out->words = name ? (name->runes.size() + 63) / 64 : 0;
  size_t elements = 0;
  for (size_t p = 0; p < chunk.size(); ++elements) {
    GlobElement element{GlobElement::Kind::kByte};
    char c = chunk[p];
    if (c == '?') {
      element.kind = GlobElement::Kind::kAnyRune;
      ++p;
    } else if (c == '[') {
      element.kind = GlobElement::Kind::kClass;
      ++p;
      if (p < chunk.size() && chunk[p] == '^') {
        element.negated = true;
        ++p;
      }
      if (out) {
        element.bits = out->class_bits.size();
        out->class_bits.resize(element.bits + out->words);
      }
      for (int n = 0;; ++n) {
        if (p < chunk.size() && chunk[p] == ']' && n > 0) {
          ++p;
          break;
        }
        char32_t lo, hi;
        if (!ReadClassBound(chunk, p, lo)) return std::nullopt;
        hi = lo;
        if (chunk[p] == '-' && !ReadClassBound(chunk, ++p, hi))
          return std::nullopt;
        if (out && lo <= hi) AddRange(*out, element.bits, *name, lo, hi);
      }
    } else {
      if (c == '\\' && ++p >= chunk.size()) return std::nullopt;
      element.byte = chunk[p];
      ++p;
    }
    if (out) out->elements.push_back(element);
  }
  return elements;
}

// Go's matchChunk on a well-formed chunk, stopping at the first mismatch:
// the end of the matched text, or nullopt.
std::optional<size_t> MatchChunk(const GlobChunk& chunk, const GlobName& name,
                                 size_t n) {
  for (const GlobElement& e : chunk.elements) {
    if (n >= name.text.size()) return std::nullopt;
    switch (e.kind) {
      case GlobElement::Kind::kByte:
        if (name.text[n] != e.byte) return std::nullopt;
        ++n;
        break;
      case GlobElement::Kind::kAnyRune:
        if (name.text[n] == '/') return std::nullopt;
        n += name.size_at[n];
        break;
      case GlobElement::Kind::kClass: {
        uint32_t rune = name.rune_at[n];
        bool in = chunk.class_bits[e.bits + rune / 64] >> (rune % 64) & 1;
        if (in == e.negated) return std::nullopt;
        n += name.size_at[n];
        break;
      }
    }
  }
  return n;
}

// Go reports a bad pattern whether or not the name matches.
bool GlobWellFormed(std::string_view pattern) {
  for (size_t p = 0; p < pattern.size();) {
    bool star;
    size_t start = p;
    p = ScanChunk(pattern, p, star);
    while (start < p && pattern[start] == '*') ++start;
    if (!ParseChunk(pattern.substr(start, p - start), nullptr, nullptr))
      return false;
  }
  return true;
}

// Go's filepath.Match loop on a well-formed pattern. Each chunk is compiled
// once and tried at each position at most once, and a chunk with more
// elements than bytes left cannot match anywhere, so the cost is linear in
// the pattern plus quadratic in the (short) name, never exponential.
bool GlobMatches(std::string_view pattern, std::string_view text) {
  GlobName name =
      DecodeName(text, pattern.find_first_of("?[") != std::string_view::npos);
  size_t n = 0;
  for (size_t p = 0; p < pattern.size();) {
    bool star;
    size_t start = p;
    p = ScanChunk(pattern, p, star);
    while (start < p && pattern[start] == '*') ++start;
    std::string_view source = pattern.substr(start, p - start);
    if (star && source.empty())
      return text.find('/', n) == std::string_view::npos;
    if (*ParseChunk(source, nullptr, nullptr) > text.size() - n) return false;
    GlobChunk chunk;
    ParseChunk(source, &name, &chunk);
    bool last = p == pattern.size();
    auto end = MatchChunk(chunk, name, n);
    if (end && (*end == text.size() || !last)) {
      n = *end;
      continue;
    }
    if (!star) return false;
    bool found = false;
    for (size_t i = n; i < text.size() && text[i] != '/'; ++i) {
      end = MatchChunk(chunk, name, i + 1);
      if (end && !(last && *end != text.size())) {
        n = *end;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return n == text.size();
}

std::optional<std::string> NormalizeKey(const std::string& key) {
  std::string_view value = key;
  if (value.starts_with("https://"))
    value.remove_prefix(8);
  else if (value.starts_with("http://"))
    value.remove_prefix(7);
  auto url = ParseHttpsUrl(value);
  if (!url) return std::nullopt;
  std::string path = url->path;
  if (path.starts_with("/v2/") || path.starts_with("/v1/"))
    path = path.substr(3);
  if (!path.empty() && path != "/") return url->host + path;
  return url->host;
}

// kubelet hands out its index.docker.io credentials only for images that
// name Docker Hub, explicitly or by having no registry host.
bool IsDefaultRegistryMatch(std::string_view image) {
  std::string_view first = image.substr(0, image.find('/'));
  if (first.empty()) return false;
  if (first.size() == image.size()) return true;
  if (first == "docker.io" || first == "index.docker.io") return true;
  return first.find_first_of(".:") == std::string_view::npos;
}

}  // namespace

bool kubelet_urls_match(std::string_view glob, std::string_view target) {
  return UrlsMatch(glob, target);
}

bool glob_match(std::string_view pattern, std::string_view name) {
  // Most keys are plain host names: Go compares those byte by byte.
  if (pattern.find_first_of("*?[\\") == std::string_view::npos)
    return pattern == name;
  return GlobWellFormed(pattern) && GlobMatches(pattern, name);
}

void keyring_add(Keyring& keyring,
                 const std::vector<DockerConfigEntry>& entries,
                 std::string_view source) {
  // Go ranges over a map in random order; sort for a stable answer when two
  // keys of one secret normalize to the same index key.
  std::vector<const DockerConfigEntry*> sorted;
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->key < b->key; });
  for (const DockerConfigEntry* e : sorted) {
    auto key = NormalizeKey(e->key);
    if (!key) continue;
    keyring.credentials[*key].push_back(
        {e->username, e->password, std::string(source)});
  }
}

std::vector<KeyringMatch> keyring_lookup(const Keyring& keyring,
                                         std::string_view image) {
  std::vector<KeyringMatch> matches;
  for (auto it = keyring.credentials.rbegin(); it != keyring.credentials.rend();
       ++it) {
    const auto& [key, credentials] = *it;
    if (!UrlsMatch(key, image)) continue;
    for (const auto& cred : credentials) matches.push_back({key, &cred, false});
  }
  if (!matches.empty() || !IsDefaultRegistryMatch(image)) return matches;
  auto fallback = keyring.credentials.find("index.docker.io");
  if (fallback != keyring.credentials.end())
    for (const auto& cred : fallback->second)
      matches.push_back({fallback->first, &cred, true});
  return matches;
}
