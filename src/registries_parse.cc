// One registries.conf file, TOML to RegistriesConf, as containers/image
// v5.40 decodes and post-processes it (loadConfigFile, postProcessRegistries).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_map>

#include "registries.h"

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
// containers/image v5.40 reads registries.conf with BurntSushi/toml v1.6,
// which implements TOML 1.1 (lex.go: lexInlineTableValue allows newlines,
// comments and a trailing comma in inline tables; lexStringEscape takes \e
// and \xHH; parse.go dtTypes has "15:04" and "2006-01-02T15:04"). toml++
// 3.3.0 has exactly these behind its unreleased-features switch, plus three
// it does not (unicode and '+' in bare keys, hexadecimal floats), which
// guard_toml_input (toml_guard.cc) refuses before toml++ sees them.
#define TOML_ENABLE_UNRELEASED_FEATURES 1
#include <toml++/toml.h>

#include "text.h"
#include "toml_guard.h"

namespace {

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

Result<RegistriesConf> Parse(std::string_view input) {
  auto text = guard_toml_input(input);
  if (!text) return Error{text.error().message, kRegistriesSyntax};
  toml::parse_result parsed = toml::parse(*text);
  if (!parsed) {
    const auto& e = parsed.error();
    return Error{"line " + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()),
                 kRegistriesSyntax};
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

  std::vector<std::string>& search = conf.unqualified_search_registries;
  if (auto r = GetStrings(root, "unqualified-search-registries", search,
                          conf.has_search_registries);
      !r)
    return r.error();
  for (std::string& s : search) {
    auto location = ParseLocation(s);
    if (!location) return location.error();
    if (!is_domain(*location))
      return Error{"invalid unqualified-search-registries entry \"" + s + "\""};
    s = *location;
  }
  if (auto r = GetStrings(root, "credential-helpers", conf.credential_helpers,
                          conf.has_credential_helpers);
      !r)
    return r.error();
  std::string& mode = conf.short_name_mode;
  std::string layer_helper;
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

// Errors of a file's content: TOML syntax, or settings containers/image
// refuses (InvalidRegistries and the decoder's type errors).
Error FileError(const std::string& path, const Error& why) {
  return Error{"invalid registries configuration \"" + path +
                   "\": " + why.message +
                   ": fix the file (containers-registries.conf(5), v2 format)",
               why.kind.empty() ? kRegistriesInvalid : why.kind};
}

}  // namespace

Result<RegistriesConf> parse_registries(std::string_view toml,
                                        std::string_view origin) {
  auto conf = Parse(toml);
  if (!conf) return FileError(std::string(origin), conf.error());
  conf->files = {std::string(origin)};
  if (conf->has_search_registries)
    conf->search_registries_origin = std::string(origin);
  return conf;
}
