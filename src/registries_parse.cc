// One registries.conf file, TOML to RegistriesConf, as containers/image
// v5.40 decodes and post-processes it (loadConfigFile, postProcessRegistries).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <span>
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
Result<Ok> ParseLocation(std::string& location) {
  std::string_view trimmed = location;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  if (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
    return Error{"invalid location '" + location +
                 "': URI schemes are not supported"};
  location.resize(trimmed.size());
  return Ok{};
}

// One field of a struct BurntSushi/toml decodes a table into, and the key it
// takes: every key that folds to the field must have its type (decode.go
// decodes each, in Go's map order); of those the exact spelling wins (Go
// takes either, at random), else the first.
struct Field {
  enum Type { kString, kBool, kAny };
  std::string_view name;  // lower-case ASCII
  Type type;
  toml::node* chosen = nullptr;
  bool wrong_type = false;
};

// equals_ignore_case, after the cheap test that settles nearly every key: an
// ASCII first byte folds only to itself or its other case, and a field's
// first byte is a lower-case letter, which `| 0x20` maps only 'P' and 'p' to.
bool KeyFoldsTo(std::string_view key, std::string_view field) {
  auto first = static_cast<unsigned char>(key.empty() ? 0 : key[0]);
  if (first < 0x80 && (first | 0x20) != field[0]) return false;
  return equals_ignore_case(key, field);
}

// One pass over the table's keys for all its fields: a table's keys were
// scanned once per field, 7 scans per [[registry]] entry.
void MatchFields(toml::table& table, std::span<Field> fields) {
  for (auto&& [key, value] : table) {
    std::string_view name = key.str();
    for (Field& field : fields) {
      bool exact = name == field.name;
      if (!exact && !KeyFoldsTo(name, field.name)) continue;
      if (field.type == Field::kString && !value.is_string())
        field.wrong_type = true;
      if (field.type == Field::kBool && !value.is_boolean())
        field.wrong_type = true;
      if (!field.chosen || exact) field.chosen = &value;
    }
  }
}

// The first field of the wrong type, in the order containers/image's struct
// declares them, as the error BurntSushi/toml gives.
Result<Ok> CheckTypes(std::span<const Field> fields, std::string_view where) {
  for (const Field& field : fields)
    if (field.wrong_type)
      return Error{std::string(where) + "." + std::string(field.name) +
                   " must be a " +
                   (field.type == Field::kBool ? "boolean" : "string")};
  return Ok{};
}

// The chosen value, moved out of the tree: each is read once, and the tree is
// thrown away after the conversion.
void Take(const Field& field, std::string& out) {
  if (field.chosen) out = std::move(field.chosen->as_string()->get());
}
void Take(const Field& field, bool& out) {
  if (field.chosen) out = field.chosen->as_boolean()->get();
}

// An endpoint's fields, after `first` of the registry's own (the same
// decoding order as the original per-field reads).
Result<Endpoint> ParseEndpoint(std::span<const Field> fields,
                               std::string_view where, bool is_mirror) {
  if (auto r = CheckTypes(fields, where); !r) return r.error();
  Endpoint e;
  Take(fields[0], e.location);
  Take(fields[1], e.insecure);
  Take(fields[2], e.pull_from_mirror);
  if (auto r = ParseLocation(e.location); !r) return r.error();
  if (is_mirror && e.location.empty())
    return Error{"invalid condition: mirror location is unset"};
  return e;
}

Result<Endpoint> ParseMirror(toml::table& table) {
  Field fields[] = {{"location", Field::kString},
                    {"insecure", Field::kBool},
                    {"pull-from-mirror", Field::kString}};
  MatchFields(table, fields);
  return ParseEndpoint(fields, "registry.mirror", true);
}

// One [[registry]] entry (postProcessRegistries' checks of one entry).
Result<Registry> ParseRegistry(toml::table& table) {
  // The registry's own fields, then its endpoint's (as the original reads),
  // then its mirrors.
  Field fields[] = {{"prefix", Field::kString},
                    {"blocked", Field::kBool},
                    {"mirror-by-digest-only", Field::kBool},
                    {"location", Field::kString},
                    {"insecure", Field::kBool},
                    {"pull-from-mirror", Field::kString},
                    {"mirror", Field::kAny}};
  MatchFields(table, fields);
  std::span<const Field> all(fields);
  if (auto r = CheckTypes(all.first(3), "registry"); !r) return r.error();
  Registry reg;
  std::string prefix;
  Take(fields[0], prefix);
  Take(fields[1], reg.blocked);
  Take(fields[2], reg.mirror_by_digest_only);
  auto endpoint = ParseEndpoint(all.subspan(3, 3), "registry", false);
  if (!endpoint) return endpoint.error();
  reg.endpoint = std::move(*endpoint);
  if (prefix.empty()) {
    if (reg.endpoint.location.empty())
      return Error{"invalid condition: both location and prefix are unset"};
    reg.prefix = reg.endpoint.location;
  } else {
    if (auto r = ParseLocation(prefix); !r) return r.error();
    reg.prefix = std::move(prefix);
    if (!reg.prefix.starts_with("*.") && reg.endpoint.location.empty())
      return Error{
          "invalid condition: location is unset and prefix is not in the "
          "format: *.example.com"};
  }
  if (!reg.endpoint.pull_from_mirror.empty())
    return Error{
        "pull-from-mirror must not be set for a non-mirror registry \"" +
        reg.prefix + "\""};
  if (toml::node* mirrors = fields[6].chosen) {
    toml::array* list = mirrors->as_array();
    if (!list)
      return Error{
          "registry.mirror must be an array of tables "
          "([[registry.mirror]])"};
    reg.mirrors.reserve(list->size());
    for (toml::node& m : *list) {
      toml::table* mt = m.as_table();
      if (!mt)
        return Error{
            "registry.mirror must be an array of tables "
            "([[registry.mirror]])"};
      auto mirror = ParseMirror(*mt);
      if (!mirror) return mirror.error();
      const std::string& pfm = mirror->pull_from_mirror;
      if (reg.mirror_by_digest_only && !pfm.empty())
        return Error{"cannot set mirror-by-digest-only for registry \"" +
                     reg.prefix + "\" and pull-from-mirror for its mirror \"" +
                     mirror->location + "\" at the same time"};
      if (!pfm.empty() && pfm != "all" && pfm != "digest-only" &&
          pfm != "tag-only")
        return Error{"unsupported pull-from-mirror value \"" + pfm +
                     "\" for mirror \"" + mirror->location + "\""};
      reg.mirrors.push_back(std::move(*mirror));
    }
  }
  return reg;
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

// The [[registry]] entries of a root table, appended to `out`.
Result<Ok> AppendRegistries(toml::table& root, std::vector<Registry>& out) {
  toml::node* node = const_cast<toml::node*>(FindKey(root, "registry"));
  if (!node) return Ok{};
  toml::array* array = node->as_array();
  if (!array)
    return Error{"registry must be an array of tables ([[registry]])"};
  for (toml::node& item : *array) {
    toml::table* table = item.as_table();
    if (!table)
      return Error{"registry must be an array of tables ([[registry]])"};
    auto reg = ParseRegistry(*table);
    if (!reg) return reg.error();
    out.push_back(std::move(*reg));
  }
  return Ok{};
}

Result<RegistriesConf> Finish(const toml::table& root,
                              std::vector<Registry>&& registries);

Result<toml::parse_result> ParseToml(std::string_view text) {
  toml::parse_result parsed = toml::parse(text);
  if (!parsed) {
    const auto& e = parsed.error();
    return Error{"line " + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()),
                 kRegistriesSyntax};
  }
  return parsed;
}

// The whole file as one TOML document.
Result<RegistriesConf> ParseWhole(std::string_view text) {
  auto parsed = ParseToml(text);
  if (!parsed) return parsed.error();
  toml::table& root = parsed->table();
  if (HasV1Fields(root))
    return Error{"registries.conf must be in v2 format but is in v1"};
  std::vector<Registry> registries;
  if (auto r = AppendRegistries(root, registries); !r) return r.error();
  return Finish(root, std::move(registries));
}

// Text per piece when a file is read in pieces: toml++'s tree of a piece
// (about 13 bytes per byte of TOML) stays in the cache while it is converted
// and freed, where the tree of a whole 100,000-entry file (180 MiB) cost page
// faults and cache misses to build and again to free.
constexpr size_t kPieceBytes = 16u << 10;

// The same file read in pieces, or nothing when that cannot be shown to give
// what ParseWhole gives. The pieces are cut at the top-level lines that are
// exactly "[[registry]]" (`headers`, from guard_toml_input): the first piece
// is everything before the first such line, each later one starts with one.
// A later piece's entries are then its own (a [[registry.mirror]] or
// [registry.x] header, a dotted key, belongs to the entry above it, in the
// same piece), and the file's root table is the first piece's plus the
// "registry" array of all pieces' entries in order, provided that the first
// piece has no "registry" key (which the first [[registry]] would redefine)
// and no later piece has a root key besides "registry" (a header like
// [aliases] that another piece may also define). Each piece parses as a whole
// document ending in a line break, so it ends where the whole file's parse
// is back at the top level, the state the next piece starts in. Any error,
// in TOML or in the settings, gives nothing: ParseWhole then reports the
// file's first error with its line, as it always did.
std::optional<RegistriesConf> ParseInPieces(
    std::string_view text, const std::vector<size_t>& headers) {
  auto first = ParseToml(text.substr(0, headers[0]));
  if (!first) return std::nullopt;
  toml::table& root = first->table();
  if (root.contains("registry") || HasV1Fields(root)) return std::nullopt;
  std::vector<Registry> registries;
  registries.reserve(headers.size());
  for (size_t h = 0; h < headers.size();) {
    size_t start = headers[h], end = text.size();
    while (++h < headers.size())
      if (headers[h] - start >= kPieceBytes) {
        end = headers[h];
        break;
      }
    auto piece = ParseToml(text.substr(start, end - start));
    if (!piece) return std::nullopt;
    toml::table& entries = piece->table();
    if (entries.size() != 1 || !entries.contains("registry") ||
        !AppendRegistries(entries, registries))
      return std::nullopt;
  }
  auto conf = Finish(root, std::move(registries));
  if (!conf) return std::nullopt;
  return std::move(*conf);
}

Result<RegistriesConf> Parse(std::string_view input) {
  std::vector<size_t> headers;
  auto text = guard_toml_input(input, &headers);
  if (!text) return Error{text.error().message, kRegistriesSyntax};
  if (!headers.empty())
    if (auto conf = ParseInPieces(*text, headers)) return std::move(*conf);
  return ParseWhole(*text);
}

// The settings after the entries (postProcessRegistries, the top-level keys).
Result<RegistriesConf> Finish(const toml::table& root,
                              std::vector<Registry>&& registries) {
  RegistriesConf conf;
  conf.registries = std::move(registries);

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
    std::string location = s;
    if (auto r = ParseLocation(location); !r) return r.error();
    if (!is_domain(location))
      return Error{"invalid unqualified-search-registries entry \"" + s + "\""};
    s = std::move(location);
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
  // the first in uniqueRegistries); sorted by prefix as Go sorts them.
  // Sorting (prefix, index) pairs keeps the first of equal prefixes first:
  // n log n, where comparing each entry with every earlier one was
  // quadratic, and each comparison reads the two prefixes' bytes, not the
  // entries that hold them.
  std::vector<std::pair<std::string_view, uint32_t>> order;
  order.reserve(conf.registries.size());
  for (uint32_t i = 0; i < conf.registries.size(); ++i)
    order.emplace_back(conf.registries[i].prefix, i);
  std::sort(order.begin(), order.end());
  std::vector<Registry> unique;
  unique.reserve(order.size());
  for (auto [prefix, i] : order)  // `prefix` still in its unmoved entry
    if (unique.empty() || unique.back().prefix != prefix)
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
