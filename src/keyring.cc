#include "keyring.h"

#include <algorithm>
#include <optional>

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
  if (host.starts_with("[")) {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    if (!ValidPort(host.substr(close + 1))) return std::nullopt;
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
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
  auto gparts = Split(ghost, '.');
  auto tparts = Split(thost, '.');
  if (gparts.size() != tparts.size()) return false;
  if (!t->path.starts_with(g->path)) return false;
  for (size_t i = 0; i < gparts.size(); ++i)
    if (!glob_match(gparts[i], tparts[i])) return false;
  return true;
}

// Decodes one UTF-8 rune (invalid bytes count as one rune, as in Go).
char32_t NextRune(std::string_view s, size_t& i) {
  unsigned char c = s[i];
  int len = c < 0x80         ? 1
            : (c >> 5) == 6  ? 2
            : (c >> 4) == 14 ? 3
            : (c >> 3) == 30 ? 4
                             : 1;
  if (i + len > s.size()) len = 1;
  char32_t r = len == 1 ? c : c & (0x7f >> len);
  for (int k = 1; k < len; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xc0) != 0x80) {
      len = 1;
      r = c;
      break;
    }
    r = (r << 6) | (cc & 0x3f);
  }
  i += len;
  return r;
}

// Matches one character class starting after '['; sets `ok` false on a
// malformed pattern. Returns whether `r` is in the class; advances `p`.
bool MatchClass(std::string_view pattern, size_t& p, char32_t r, bool& ok) {
  bool negated = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negated = true;
    ++p;
  }
  bool matched = false;
  int count = 0;
  while (true) {
    if (p < pattern.size() && pattern[p] == ']' && count > 0) {
      ++p;
      break;
    }
    auto read = [&](char32_t& out) {
      if (p >= pattern.size() || pattern[p] == '-' || pattern[p] == ']')
        return false;
      if (pattern[p] == '\\') {
        ++p;
        if (p >= pattern.size()) return false;
      }
      out = NextRune(pattern, p);
      return true;
    };
    char32_t lo, hi;
    if (!read(lo)) {
      ok = false;
      return false;
    }
    hi = lo;
    if (p < pattern.size() && pattern[p] == '-') {
      ++p;
      if (!read(hi)) {
        ok = false;
        return false;
      }
    }
    if (lo <= r && r <= hi) matched = true;
    ++count;
  }
  return matched != negated;
}

// Checks that the rest of a pattern is well formed (Go reports a bad
// pattern even when the name already failed to match).
bool WellFormed(std::string_view pattern, size_t p) {
  while (p < pattern.size()) {
    char c = pattern[p];
    if (c == '\\') {
      if (p + 1 >= pattern.size()) return false;
      p += 2;
    } else if (c == '[') {
      ++p;
      bool ok = true;
      MatchClass(pattern, p, 0, ok);
      if (!ok) return false;
    } else {
      ++p;
    }
  }
  return true;
}

// Matches pattern[p..] against name[n..]; `ok` goes false on a bad pattern.
bool MatchFrom(std::string_view pattern, size_t p, std::string_view name,
               size_t n, bool& ok) {
  while (p < pattern.size()) {
    char c = pattern[p];
    if (c == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size())
        return name.find('/', n) == std::string_view::npos;
      for (size_t k = n; k <= name.size(); ++k) {
        if (k > n && name[k - 1] == '/') break;
        bool inner_ok = true;
        if (MatchFrom(pattern, p, name, k, inner_ok)) return true;
        if (!inner_ok) {
          ok = false;
          return false;
        }
      }
      return false;
    }
    if (n >= name.size()) return false;
    if (c == '?') {
      if (name[n] == '/') return false;
      ++p;
      NextRune(name, n);
      continue;
    }
    if (c == '[') {
      ++p;
      size_t before = n;
      char32_t r = NextRune(name, n);
      if (name[before] == '/') return false;
      if (!MatchClass(pattern, p, r, ok)) return false;
      continue;
    }
    if (c == '\\') {
      ++p;
      if (p >= pattern.size()) {
        ok = false;
        return false;
      }
      c = pattern[p];
    }
    if (name[n] != c) return false;
    ++p;
    ++n;
  }
  return n == name.size();
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

bool glob_match(std::string_view pattern, std::string_view name) {
  bool ok = true;
  bool matched = MatchFrom(pattern, 0, name, 0, ok);
  return ok && matched && WellFormed(pattern, 0);
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
    keyring.index.push_back(*key);
  }
  std::sort(keyring.index.begin(), keyring.index.end(), std::greater<>());
  keyring.index.erase(std::unique(keyring.index.begin(), keyring.index.end()),
                      keyring.index.end());
}

std::vector<KeyringMatch> keyring_lookup(const Keyring& keyring,
                                         std::string_view image) {
  std::vector<KeyringMatch> matches;
  for (const std::string& key : keyring.index) {
    if (!UrlsMatch(key, image)) continue;
    for (const auto& cred : keyring.credentials.at(key))
      matches.push_back({key, &cred, false});
  }
  if (!matches.empty() || !IsDefaultRegistryMatch(image)) return matches;
  auto fallback = keyring.credentials.find("index.docker.io");
  if (fallback != keyring.credentials.end())
    for (const auto& cred : fallback->second)
      matches.push_back({fallback->first, &cred, true});
  return matches;
}
