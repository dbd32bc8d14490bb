#include "registries.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_map>

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
// containers/image v5.40 reads registries.conf with BurntSushi/toml v1.6,
// which implements TOML 1.1 (lex.go: lexInlineTableValue allows newlines,
// comments and a trailing comma in inline tables; lexStringEscape takes \e
// and \xHH; parse.go dtTypes has "15:04" and "2006-01-02T15:04"). toml++
// 3.3.0 has exactly these behind its unreleased-features switch, plus three
// it does not (unicode and '+' in bare keys, hexadecimal floats), which
// GuardTomlInput refuses before toml++ sees them.
#define TOML_ENABLE_UNRELEASED_FEATURES 1
#include <toml++/toml.h>

#include "file.h"
#include "text.h"

namespace {

namespace fs = std::filesystem;

// BurntSushi/toml, which containers/image uses, matches a key to a field
// exactly or else case-insensitively with Go's strings.EqualFold.
const toml::node* FindKey(const toml::table& table, std::string_view field) {
  if (const toml::node* exact = table.get(field)) return exact;
  for (const auto& [key, value] : table)
    if (equals_ignore_case(key.str(), field)) return &value;
  return nullptr;
}

// Reads one optional typed key. BurntSushi/toml (which containers/image uses)
// rejects a value of the wrong type and ignores unknown keys; so do we. It
// decodes every key that folds to the field, in Go's map order
// (decode.go:307-318), so a wrong type under any spelling fails the file;
// of valid ones we take the exact spelling (Go takes either, at random).
template <class T>
Result<Ok> Get(const toml::table& table, std::string_view key, T& out,
               std::string_view where) {
  constexpr bool kBool = std::is_same_v<T, bool>;
  const toml::node* chosen = nullptr;
  for (const auto& [name, value] : table) {
    if (!equals_ignore_case(name.str(), key)) continue;
    if (kBool ? !value.is_boolean() : !value.is_string())
      return Error{std::string(where) + "." + std::string(key) + " must be a " +
                   (kBool ? "boolean" : "string")};
    if (!chosen || name.str() == key) chosen = &value;
  }
  if (chosen) out = *chosen->value<T>();
  return Ok{};
}

Result<Ok> GetStrings(const toml::table& table, std::string_view key,
                      std::vector<std::string>& out, bool& present) {
  const toml::node* node = FindKey(table, key);
  present = node != nullptr;
  if (!node) return Ok{};
  const toml::array* array = node->as_array();
  if (!array) return Error{std::string(key) + " must be an array of strings"};
  for (const toml::node& item : *array) {
    if (!item.is_string())
      return Error{std::string(key) + " must be an array of strings"};
    out.push_back(*item.value<std::string>());
  }
  return Ok{};
}

// parseLocation: trim trailing '/', refuse URL schemes.
Result<std::string> ParseLocation(std::string_view input) {
  std::string_view trimmed = input;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  if (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
    return Error{"invalid location '" + std::string(input) +
                 "': URI schemes are not supported"};
  return std::string(trimmed);
}

Result<Endpoint> ParseEndpoint(const toml::table& table, std::string_view where,
                               bool is_mirror) {
  Endpoint e;
  for (auto r : {Get(table, "location", e.location, where),
                 Get(table, "insecure", e.insecure, where),
                 Get(table, "pull-from-mirror", e.pull_from_mirror, where)})
    if (!r) return r.error();
  auto location = ParseLocation(e.location);
  if (!location) return location.error();
  e.location = *location;
  if (is_mirror && e.location.empty())
    return Error{"invalid condition: mirror location is unset"};
  return e;
}

// The v1 format ([registries.search] registries = [...]) is an error when
// any of its lists is set, even to an empty list.
bool HasV1Fields(const toml::table& root) {
  const toml::node* node = FindKey(root, "registries");
  if (!node) return false;
  const toml::table* v1 = node->as_table();
  if (!v1) return true;  // not even the v1 shape: reject as BurntSushi does
  for (const char* section : {"search", "insecure", "block"}) {
    const toml::node* n = FindKey(*v1, section);
    if (!n) continue;
    const toml::table* t = n->as_table();
    if (!t || FindKey(*t, "registries")) return true;
  }
  return false;
}

Result<Ok> CheckAliases(const toml::table& root) {
  const toml::node* node = FindKey(root, "aliases");
  if (!node) return Ok{};
  const toml::table* aliases = node->as_table();
  if (!aliases) return Error{"aliases must be a table"};
  for (const auto& [key, value] : *aliases) {
    std::string name(key.str());
    if (!value.is_string())
      return Error{"alias \"" + name + "\" must be a string"};
    auto short_name = parse_reference(name);
    if (!short_name || !short_name->tag.empty() ||
        !short_name->digest.empty() ||
        (!short_name->domain.empty() &&
         (short_name->domain.find_first_of(".:") != std::string::npos ||
          short_name->domain == "localhost")))
      return Error{"invalid short name \"" + name + "\" in aliases"};
    std::string target = *value.value<std::string>();
    if (target.empty()) continue;
    auto full = parse_reference(target);
    if (!full || !full->tag.empty() || !full->digest.empty() ||
        (full->domain.find_first_of(".:") == std::string::npos &&
         full->domain != "localhost") ||
        !parse_normalized_named(target))
      return Error{"invalid alias \"" + target + "\" for \"" + name + "\""};
  }
  return Ok{};
}

// What toml++ must never see. BurntSushi/toml allows only [A-Za-z0-9_-] in a
// bare key (lex.go isBareKeyChar) and nothing but ASCII outside strings and
// comments, so every non-ASCII byte there is an error in Go too; refusing it
// here also keeps toml++ 3.3.0 away from its undefined behaviour on a
// character U+00A1-U+0499 right after a key (fixed upstream after 3.3.0).
// The same scan refuses '+' in a key and hexadecimal floats (lex.go
// lexHexInteger stops at '.' or 'p'), which toml++'s unreleased mode takes.
// It tracks just enough structure for that: strings, comments, and whether
// the next token is a key or a value. Returns the text without a leading
// byte-order mark (parse.go strips UTF-8 and UTF-16 ones).
Result<std::string_view> GuardTomlInput(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF"))
    text.remove_prefix(3);
  else if (text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF"))
    text.remove_prefix(2);
  size_t line = 1;
  auto fail = [&](const std::string& what) {
    return Error{"line " + std::to_string(line) + ": " + what};
  };
  std::string nesting;  // '[' array or '{' inline table, innermost last
  bool key = true;      // a key comes next (else a value)
  size_t i = 0;
  auto triple = [&](size_t at, char quote) {
    return at + 2 < text.size() && text[at] == quote && text[at + 1] == quote &&
           text[at + 2] == quote;
  };
  auto skip_string = [&](char quote) {
    bool multi = triple(i, quote);
    i += multi ? 3 : 1;
    while (i < text.size()) {
      char c = text[i];
      if (c == '\n') {
        if (!multi) return;  // unterminated: toml++ reports it
        ++line;
      }
      if (c == '\\' && quote == '"') {
        if (i + 1 < text.size() && text[i + 1] == '\n') ++line;
        i += 2;
        continue;
      }
      if (c == quote && (!multi || triple(i, quote))) {
        i += multi ? 3 : 1;
        // """a"""" ends with up to two more quotes inside the string.
        for (int extra = 0;
             multi && extra < 2 && i < text.size() && text[i] == quote; ++extra)
          ++i;
        return;
      }
      ++i;
    }
  };
  while (i < text.size()) {
    char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80)
      return fail("non-ASCII character outside a string or comment");
    switch (c) {
      case '#':
        while (i < text.size() && text[i] != '\n') ++i;
        continue;
      case '"':
      case '\'':
        // toml++ reads a quote right after a bare key or value character as
        // part of that token and then tests the next character for
        // whitespace, the call with undefined behaviour; TOML refuses the
        // form anyway ('a."b"' keys aside).
        if (i > 0 &&
            (std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
             std::strchr("+-_:", text[i - 1]) || (!key && text[i - 1] == '.')))
          return fail("a quote right after a bare key or value");
        skip_string(c);
        continue;
      case '\n':
        ++line;
        if (nesting.empty()) key = true;
        break;
      case '=':
        key = false;
        break;
      case '[':
        if (!key) nesting += '[';  // else a table header
        break;
      case '{':
        nesting += '{';
        key = true;
        break;
      case ']':
      case '}':
        if (!nesting.empty() && nesting.back() == (c == ']' ? '[' : '{')) {
          nesting.pop_back();
          key = false;
        }
        break;
      case ',':
        key = !nesting.empty() && nesting.back() == '{';
        break;
      case '+':
        if (key) return fail("'+' in a bare key");
        [[fallthrough]];
      default:
        if (!key && std::isalnum(static_cast<unsigned char>(c))) {
          size_t end = i;
          while (end < text.size() &&
                 (std::isalnum(static_cast<unsigned char>(text[end])) ||
                  std::strchr("+-_.:", text[end])))
            ++end;
          std::string_view word = text.substr(i, end - i);
          if (word.starts_with("0x") || word.starts_with("0X"))
            if (word.find_first_of(".pP") != std::string_view::npos)
              return fail("hexadecimal floats are not TOML");
          i = end;
          continue;
        }
    }
    ++i;
  }
  return text;
}

Result<RegistriesConf> Parse(std::string_view input) {
  auto text = GuardTomlInput(input);
  if (!text) return text.error();
  toml::parse_result parsed = toml::parse(*text);
  if (!parsed) {
    const auto& e = parsed.error();
    return Error{"line " + std::to_string(e.source().begin.line) + ": " +
                 std::string(e.description())};
  }
  const toml::table& root = parsed.table();
  if (HasV1Fields(root))
    return Error{"registries.conf must be in v2 format but is in v1"};

  RegistriesConf conf;
  if (const toml::node* node = FindKey(root, "registry")) {
    const toml::array* array = node->as_array();
    if (!array)
      return Error{"registry must be an array of tables ([[registry]])"};
    for (const toml::node& item : *array) {
      const toml::table* table = item.as_table();
      if (!table)
        return Error{"registry must be an array of tables ([[registry]])"};
      Registry reg;
      std::string prefix;
      for (auto r : {Get(*table, "prefix", prefix, "registry"),
                     Get(*table, "blocked", reg.blocked, "registry"),
                     Get(*table, "mirror-by-digest-only",
                         reg.mirror_by_digest_only, "registry")})
        if (!r) return r.error();
      auto endpoint = ParseEndpoint(*table, "registry", false);
      if (!endpoint) return endpoint.error();
      reg.endpoint = *endpoint;
      if (prefix.empty()) {
        if (reg.endpoint.location.empty())
          return Error{"invalid condition: both location and prefix are unset"};
        reg.prefix = reg.endpoint.location;
      } else {
        auto p = ParseLocation(prefix);
        if (!p) return p.error();
        reg.prefix = *p;
        if (!reg.prefix.starts_with("*.") && reg.endpoint.location.empty())
          return Error{
              "invalid condition: location is unset and prefix is not in the "
              "format: *.example.com"};
      }
      if (!reg.endpoint.pull_from_mirror.empty())
        return Error{
            "pull-from-mirror must not be set for a non-mirror registry \"" +
            reg.prefix + "\""};
      if (const toml::node* mirrors = FindKey(*table, "mirror")) {
        const toml::array* list = mirrors->as_array();
        if (!list)
          return Error{
              "registry.mirror must be an array of tables "
              "([[registry.mirror]])"};
        for (const toml::node& m : *list) {
          const toml::table* mt = m.as_table();
          if (!mt)
            return Error{
                "registry.mirror must be an array of tables "
                "([[registry.mirror]])"};
          auto mirror = ParseEndpoint(*mt, "registry.mirror", true);
          if (!mirror) return mirror.error();
          const std::string& pfm = mirror->pull_from_mirror;
          if (reg.mirror_by_digest_only && !pfm.empty())
            return Error{"cannot set mirror-by-digest-only for registry \"" +
                         reg.prefix +
                         "\" and pull-from-mirror for its mirror \"" +
                         mirror->location + "\" at the same time"};
          if (!pfm.empty() && pfm != "all" && pfm != "digest-only" &&
              pfm != "tag-only")
            return Error{"unsupported pull-from-mirror value \"" + pfm +
                         "\" for mirror \"" + mirror->location + "\""};
          reg.mirrors.push_back(*mirror);
        }
      }
      conf.registries.push_back(std::move(reg));
    }
  }

  // Entries for the same location (or, without one, the same prefix) must
  // agree on insecure and blocked.
  std::unordered_map<std::string_view, const Registry*> by_location;
  by_location.reserve(conf.registries.size());
  for (const Registry& reg : conf.registries) {
    std::string_view key =
        reg.endpoint.location.empty() ? reg.prefix : reg.endpoint.location;
    auto [it, inserted] = by_location.emplace(key, &reg);
    if (inserted) continue;
    if (it->second->endpoint.insecure != reg.endpoint.insecure)
      return Error{"registry '" + reg.endpoint.location +
                   "' is defined multiple times with conflicting 'insecure' "
                   "setting"};
    if (it->second->blocked != reg.blocked)
      return Error{"registry '" + reg.endpoint.location +
                   "' is defined multiple times with conflicting 'blocked' "
                   "setting"};
  }

  std::vector<std::string> search;
  bool present = false;
  if (auto r =
          GetStrings(root, "unqualified-search-registries", search, present);
      !r)
    return r.error();
  for (const std::string& s : search) {
    auto location = ParseLocation(s);
    if (!location) return location.error();
    if (!is_domain(*location))
      return Error{"invalid unqualified-search-registries entry \"" + s + "\""};
  }
  std::vector<std::string> helpers;
  if (auto r = GetStrings(root, "credential-helpers", helpers, present); !r)
    return r.error();
  std::string mode, layer_helper;
  if (auto r = Get(root, "short-name-mode", mode, "top level"); !r)
    return r.error();
  if (auto r = Get(root, "additional-layer-store-auth-helper", layer_helper,
                   "top level");
      !r)
    return r.error();

  // For a repeated prefix the first entry wins (postProcessRegistries keeps
  // the first in uniqueRegistries); sorted by prefix as Go sorts them. A
  // stable sort of indices keeps the first of equal prefixes first: n log n
  // without moving entries around, where comparing each entry with every
  // earlier one was quadratic.
  std::vector<uint32_t> order(conf.registries.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return conf.registries[a].prefix < conf.registries[b].prefix;
  });
  std::vector<Registry> unique;
  unique.reserve(order.size());
  for (uint32_t i : order)
    if (unique.empty() || unique.back().prefix != conf.registries[i].prefix)
      unique.push_back(std::move(conf.registries[i]));
  conf.registries = std::move(unique);

  if (!mode.empty() && mode != "disabled" && mode != "enforcing" &&
      mode != "permissive")
    return Error{"invalid short-name mode: \"" + mode + "\""};
  for (const Registry& reg : conf.registries)
    if (reg.prefix.starts_with("*.") &&
        reg.prefix.find_first_of("/@:") != std::string::npos)
      return Error{
          "wildcarded prefix should be in the format *.example.com, "
          "not \"" +
          reg.prefix + "\""};
  if (auto r = CheckAliases(root); !r) return r.error();
  return conf;
}

// Operator files; generous for configurations of 100,000 registries.
constexpr std::size_t kMaxRegistriesFileBytes = 64u << 20;

Error FileError(const std::string& path, const std::string& why) {
  return Error{"invalid registries configuration \"" + path + "\": " + why +
               ": fix the file (containers-registries.conf(5), v2 format)"};
}

// Later files replace registries with the same prefix
// (updateWithConfigurationFrom). Both lists are sorted by prefix and
// unique, so one linear merge keeps them so.
void Merge(RegistriesConf& into, RegistriesConf&& update) {
  std::vector<Registry> merged;
  merged.reserve(into.registries.size() + update.registries.size());
  auto a = into.registries.begin(), a_end = into.registries.end();
  auto b = update.registries.begin(), b_end = update.registries.end();
  while (a != a_end || b != b_end) {
    if (b == b_end || (a != a_end && a->prefix < b->prefix)) {
      merged.push_back(std::move(*a++));
    } else {
      if (a != a_end && a->prefix == b->prefix) ++a;  // replaced
      merged.push_back(std::move(*b++));
    }
  }
  into.registries = std::move(merged);
}

// refMatchingPrefix: the length of `ref` the prefix covers, or npos.
size_t MatchingPrefix(std::string_view ref, std::string_view prefix) {
  auto boundary = [&](size_t at) {
    return at == ref.size() || ref[at] == ':' || ref[at] == '/' ||
           ref[at] == '@';
  };
  if (prefix.starts_with("*.")) {
    std::string_view suffix = prefix.substr(1);  // ".example.com"
    size_t index = ref.find(suffix);
    if (index == std::string_view::npos) return std::string_view::npos;
    if (ref.substr(0, index).find('/') != std::string_view::npos)
      return std::string_view::npos;
    index += suffix.size();
    return boundary(index) ? index : std::string_view::npos;
  }
  if (!ref.starts_with(prefix) || !boundary(prefix.size()))
    return std::string_view::npos;
  return prefix.size();
}

Result<Reference> Rewrite(const Endpoint& endpoint, const Reference& ref,
                          std::string_view prefix) {
  std::string text = ref.str();
  size_t covered = MatchingPrefix(text, prefix);
  if (covered == std::string_view::npos)
    return Error{"invalid prefix '" + std::string(prefix) +
                 "' for reference '" + text + "'"};
  if (endpoint.location.empty()) {
    if (!prefix.starts_with("*."))
      return Error{
          "invalid prefix '" + std::string(prefix) +
          "' for empty location, should be in the format: *.example.com"};
    return ref;
  }
  auto rewritten = parse_named(endpoint.location + text.substr(covered));
  if (!rewritten)
    return Error{"rewriting reference: " + rewritten.error().message};
  return rewritten;
}

}  // namespace

RegistriesPaths default_registries_paths(const std::string& explicit_main,
                                         const char* env_main,
                                         const std::string& dropin_dir) {
  RegistriesPaths paths;
  if (!explicit_main.empty()) {
    paths.main_files = {explicit_main};
    paths.main_must_exist = true;
  } else if (env_main && *env_main) {
    paths.main_files = {env_main};
    paths.main_must_exist = true;
    return paths;  // the variable turns drop-ins off
  } else {
    paths.main_files = {"/etc/containers/registries.conf",
                        "/usr/share/containers/registries.conf"};
  }
  if (!dropin_dir.empty()) paths.dropin_dirs = {dropin_dir};
  return paths;
}

Result<RegistriesConf> parse_registries(std::string_view toml,
                                        std::string_view origin) {
  auto conf = Parse(toml);
  if (!conf) return FileError(std::string(origin), conf.error().message);
  return conf;
}

// Files are opened as go.podman.io/storage's configfile.Read opens them
// (parse.go in v1.63.0): the first main file that opens, skipping a missing
// one unless it was named explicitly (lines 276-283); drop-ins listed by
// os.ReadDir, whose entries count as directories only when they are one
// themselves, not a symlink to one (line 387); a drop-in that no longer
// opens with "not found", e.g. a dangling symlink, is skipped (lines
// 303-308); every other failure, a directory read as a file included, is an
// error.
Result<RegistriesConf> load_registries(const RegistriesPaths& paths) {
  auto cannot_read = [](const std::string& path, const std::string& why) {
    return Error{"cannot read registries configuration \"" + path +
                 "\": " + why + ": fix the file or its permissions"};
  };
  RegistriesConf merged;
  auto load = [&](const std::string& path,
                  const std::string& text) -> Result<Ok> {
    auto conf = parse_registries(text, path);
    if (!conf) return conf.error();
    Merge(merged, std::move(*conf));
    return Ok{};
  };
  for (const std::string& main : paths.main_files) {
    auto text = read_file(main, kMaxRegistriesFileBytes);
    if (!text) {
      if (text.error().err == ENOENT && !paths.main_must_exist) continue;
      if (text.error().err == ENOENT)
        return Error{"cannot read registries configuration \"" + main +
                     "\": " + text.error().message +
                     ": create it or pass --registries-conf"};
      return cannot_read(main, text.error().message);
    }
    if (auto r = load(main, *text); !r) return r.error();
    break;
  }
  std::map<std::string, std::string> dropins;  // name -> path
  for (const std::string& dir : paths.dropin_dirs) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) continue;
      return Error{"cannot read registries drop-in directory \"" + dir +
                   "\": " + ec.message() + ": fix its permissions"};
    }
    for (const fs::directory_entry& entry : it) {
      std::string name = entry.path().filename().string();
      if (entry.symlink_status(ec).type() == fs::file_type::directory) continue;
      if (name.ends_with(".conf")) dropins[name] = entry.path().string();
    }
  }
  for (auto& [name, path] : dropins) {
    auto text = read_file(path, kMaxRegistriesFileBytes);
    if (!text) {
      if (text.error().err == ENOENT) continue;
      return cannot_read(path, text.error().message);
    }
    if (auto r = load(path, *text); !r) return r.error();
  }
  return merged;
}

const Registry* find_registry(const RegistriesConf& conf,
                              std::string_view name) {
  const Registry* best = nullptr;
  for (const Registry& reg : conf.registries)
    if (MatchingPrefix(name, reg.prefix) != std::string_view::npos &&
        (!best || reg.prefix.size() > best->prefix.size()))
      best = &reg;
  return best;
}

Result<std::vector<PullSource>> pull_sources(const Registry& registry,
                                             const Reference& ref) {
  bool digested = !ref.digest.empty();
  std::vector<std::pair<const Endpoint*, bool>> endpoints;
  for (const Endpoint& m : registry.mirrors) {
    if (registry.mirror_by_digest_only && !digested) continue;
    if (m.pull_from_mirror == "digest-only" && !digested) continue;
    if (m.pull_from_mirror == "tag-only" && digested) continue;
    endpoints.emplace_back(&m, true);
  }
  endpoints.emplace_back(&registry.endpoint, false);
  std::vector<PullSource> sources;
  for (auto [endpoint, mirror] : endpoints) {
    auto rewritten = Rewrite(*endpoint, ref, registry.prefix);
    if (!rewritten) return rewritten.error();
    sources.push_back({*endpoint, std::move(*rewritten), mirror});
  }
  return sources;
}

std::vector<PullSource> credential_sources(const Registry& registry,
                                           const Reference& name) {
  std::vector<const Endpoint*> endpoints;
  for (const Endpoint& m : registry.mirrors) endpoints.push_back(&m);
  endpoints.push_back(&registry.endpoint);
  std::vector<PullSource> sources;
  for (const Endpoint* e : endpoints) {
    // A location that cannot take the repository (e.g. a mirror
    // "localhost:5000" for "x.io/nginx") is never pulled from: containers/image
    // fails that attempt, so it needs no credential.
    auto rewritten = Rewrite(*e, name, registry.prefix);
    if (!rewritten) continue;
    bool mirror = e != &registry.endpoint;
    // The registry's own location needs our credentials only where it
    // rewrites the name; otherwise it is the source kubelet already serves.
    if (!mirror && rewritten->name() == name.name()) continue;
    sources.push_back({*e, std::move(*rewritten), mirror});
  }
  return sources;
}

bool location_within(std::string_view location, std::string_view scope) {
  return location == scope ||
         (location.starts_with(scope) && location.size() > scope.size() &&
          location[scope.size()] == '/');
}
