#include "dockercfg.h"

#include <map>

#include "base64.h"
#include "json.h"
#include "text.h"

// Pull secrets are decoded as kubelet decodes them: Go's encoding/json into
// credentialprovider.DockerConfigJSON / DockerConfig (pkg/credentialprovider
// config.go and secrets/secrets.go, Kubernetes 1.36). nlohmann's DOM keeps one
// value per key in key order; Go walks members in document order and decodes
// every one, so the document is read into GoJson instead.

namespace {

using nlohmann::json;

// A JSON value as Go's decoder walks it: members in document order, every
// value of a key given twice kept. Array elements are never needed (no field
// of kubelet's types is an array), only that a value was one.
// A member is its own struct, not a std::pair: a pair of the still
// incomplete GoJson is ill-formed (GCC lets it pass, clang does not).
struct GoJsonMember;
struct GoJson {
  enum Kind { kNull, kScalar, kString, kArray, kObject } kind = kNull;
  std::string string;
  std::vector<GoJsonMember> members;
};
struct GoJsonMember {
  std::string name;
  GoJson value;
};

class GoJsonBuilder : public nlohmann::json_sax<json> {
 public:
  GoJson root;

  bool null() override { return Put(GoJson{}); }
  bool boolean(bool) override { return Put({GoJson::kScalar, {}, {}}); }
  bool number_integer(number_integer_t) override {
    return Put({GoJson::kScalar, {}, {}});
  }
  bool number_unsigned(number_unsigned_t) override {
    return Put({GoJson::kScalar, {}, {}});
  }
  bool number_float(number_float_t, const string_t&) override {
    return Put({GoJson::kScalar, {}, {}});
  }
  bool string(string_t& value) override {
    return Put({GoJson::kString, std::move(value), {}});
  }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override {
    if (skipped_depth_) return ++skipped_depth_;
    open_.push_back(Place({GoJson::kObject, {}, {}}));
    return true;
  }
  bool key(string_t& name) override {
    if (!skipped_depth_) open_.back()->members.push_back({name, GoJson{}});
    return true;
  }
  bool end_object() override {
    if (skipped_depth_) return --skipped_depth_, true;
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (!skipped_depth_) Place({GoJson::kArray, {}, {}});
    ++skipped_depth_;
    return true;
  }
  bool end_array() override { return --skipped_depth_, true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Put(GoJson value) {
    if (!skipped_depth_) Place(std::move(value));
    return true;
  }
  // Where the next value goes: the root, or the member just keyed. A
  // pointer to it stays valid while it is open: its parent gets no new
  // member before it closes.
  GoJson* Place(GoJson value) {
    GoJson* slot = open_.empty() ? &root : &open_.back()->members.back().value;
    *slot = std::move(value);
    return slot;
  }

  std::vector<GoJson*> open_;
  int skipped_depth_ = 0;  // inside an array: its content is not kept
};

// The length of a valid UTF-8 sequence at `s[i]`, or 0 (utf8.DecodeRune's
// rules: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8Length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return byte(k) >= lo && byte(k) <= hi;
  };
  unsigned c = byte(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

int Hex4(std::string_view s, size_t i) {  // "\uXXXX" at i, or -1
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int v = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Inside strings, what Go's unquote (encoding/json decode.go) turns into
// U+FFFD: each byte of invalid UTF-8, and a \u escape of a surrogate that is
// not the high half of a pair. nlohmann refuses both; after this it reads
// what Go reads. Everything else is left to the parser.
std::string GoStrings(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (!in_string) {
      in_string = c == '"';
      out += c;
      ++i;
    } else if (c == '"') {
      in_string = false;
      out += c;
      ++i;
    } else if (c == '\\') {
      int unit = Hex4(text, i);
      if (unit >= 0xD800 && unit <= 0xDFFF) {
        int low = Hex4(text, i + 6);
        if (unit <= 0xDBFF && low >= 0xDC00 && low <= 0xDFFF) {
          out.append(text.substr(i, 12));
          i += 12;
        } else {
          out += "\\ufffd";
          i += 6;
        }
      } else {
        out.append(text.substr(i, std::min<size_t>(2, text.size() - i)));
        i += 2;
      }
    } else if (static_cast<unsigned char>(c) < 0x80) {
      out += c;
      ++i;
    } else if (size_t n = Utf8Length(text, i)) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

Result<GoJson> ParseGoJson(std::string_view text) {
  // Go's scanner has no byte-order mark; nlohmann would skip one.
  if (text.starts_with("\xEF\xBB\xBF"))
    return Error{"not valid JSON (starts with a byte-order mark)"};
  GoJsonBuilder builder;
  if (auto parsed = parse_json_sax(GoStrings(text), builder); !parsed)
    return parsed.error();
  return std::move(builder.root);
}

// A string field: null leaves it as it was, another type is an error.
Result<Ok> TakeString(const GoJson& value, std::string& out,
                      std::string_view field) {
  if (value.kind == GoJson::kNull) return Ok{};
  if (value.kind != GoJson::kString)
    return Error{"field \"" + std::string(field) + "\" is not a string"};
  out = value.string;
  return Ok{};
}

// decodeDockerConfigFieldAuth: padded base64 (StdEncoding) when the value,
// trimmed, ends with '=', else unpadded (RawStdEncoding); both skip '\r' and
// '\n' anywhere. Then "user:password". Never echo the value in an error.
Result<Ok> DecodeAuth(std::string_view auth, DockerConfigEntry& entry) {
  std::string text;
  for (char c : auth)
    if (c != '\r' && c != '\n') text += c;
  bool padded = text.ends_with('=');
  std::optional<std::string> decoded;
  if (padded ? text.size() % 4 == 0 : text.find('=') == std::string::npos)
    decoded = base64_decode(text);
  if (!decoded) return Error{"\"auth\" is not valid base64"};
  size_t colon = decoded->find(':');
  if (colon == std::string::npos)
    return Error{"\"auth\" must be base64 of username:password"};
  entry.username = decoded->substr(0, colon);
  entry.password = decoded->substr(colon + 1);
  return Ok{};
}

// DockerConfigEntry.UnmarshalJSON: the fields of dockerConfigEntryWithAuth,
// then "auth" (when not empty) replaces username and password.
Result<DockerConfigEntry> DecodeEntry(const std::string& key,
                                      const GoJson& value) {
  DockerConfigEntry entry{key, "", ""};
  if (value.kind == GoJson::kNull) return entry;
  if (value.kind != GoJson::kObject)
    return Error{"entry \"" + key + "\" is not an object"};
  std::string auth, email;
  for (const auto& [field, v] : value.members) {
    Result<Ok> taken = Ok{};
    if (equals_ignore_case(field, "username"))
      taken = TakeString(v, entry.username, "username");
    else if (equals_ignore_case(field, "password"))
      taken = TakeString(v, entry.password, "password");
    else if (equals_ignore_case(field, "auth"))
      taken = TakeString(v, auth, "auth");
    else if (equals_ignore_case(field, "email"))
      taken = TakeString(v, email, "email");
    if (!taken) return Error{"entry \"" + key + "\": " + taken.error().message};
  }
  if (!auth.empty())
    if (auto decoded = DecodeAuth(auth, entry); !decoded)
      return Error{"entry \"" + key + "\": " + decoded.error().message};
  return entry;
}

// A DockerConfig map being decoded into: a key given again replaces its
// entry (Go zeroes the map element), new keys keep their first position.
struct EntryMap {
  std::vector<DockerConfigEntry> entries;
  std::map<std::string, size_t, std::less<>> position;

  void Clear() {
    entries.clear();
    position.clear();
  }
  Result<Ok> DecodeInto(const GoJson& object) {
    if (object.kind == GoJson::kNull) {  // null sets a map to nil
      Clear();
      return Ok{};
    }
    if (object.kind != GoJson::kObject)
      return Error{"registry entries must be an object"};
    for (const auto& [key, value] : object.members) {
      auto entry = DecodeEntry(key, value);
      if (!entry) return entry.error();
      auto [it, added] = position.emplace(key, entries.size());
      if (added)
        entries.push_back(std::move(*entry));
      else
        entries[it->second] = std::move(*entry);
    }
    return Ok{};
  }
};

bool IsAuths(std::string_view name) {
  return equals_ignore_case(name, "auths");
}

// DockerConfigJSON: "auths" (every spelling of it, merged into one map in
// document order) and "HttpHeaders" (a map of strings); the rest ignored.
Result<std::vector<DockerConfigEntry>> DecodeDockerConfigJson(
    const GoJson& doc) {
  EntryMap auths;
  if (doc.kind == GoJson::kNull) return auths.entries;
  if (doc.kind != GoJson::kObject) return Error{"not a JSON object"};
  for (const auto& [name, value] : doc.members) {
    if (IsAuths(name)) {
      if (auto r = auths.DecodeInto(value); !r) return r.error();
    } else if (equals_ignore_case(name, "HttpHeaders")) {
      if (value.kind == GoJson::kNull) continue;
      if (value.kind != GoJson::kObject)
        return Error{"\"HttpHeaders\" is not an object"};
      for (const auto& header : value.members)
        if (header.value.kind != GoJson::kString &&
            header.value.kind != GoJson::kNull)
          return Error{"\"HttpHeaders\" values must be strings"};
    }
  }
  return auths.entries;
}

Result<std::vector<DockerConfigEntry>> DecodeDockerConfig(const GoJson& doc) {
  EntryMap entries;
  if (auto r = entries.DecodeInto(doc); !r) return r.error();
  return entries.entries;
}

}  // namespace

Result<std::vector<DockerConfigEntry>> parse_dockerconfigjson(
    std::string_view text) {
  auto doc = ParseGoJson(text);
  if (!doc) return doc.error();
  return DecodeDockerConfigJson(*doc);
}

Result<std::vector<DockerConfigEntry>> parse_dockercfg(std::string_view text) {
  auto doc = ParseGoJson(text);
  if (!doc) return doc.error();
  return DecodeDockerConfig(*doc);
}

Result<std::vector<DockerConfigEntry>> parse_docker_config(
    std::string_view text) {
  auto doc = ParseGoJson(text);
  if (!doc) return doc.error();
  for (const auto& member : doc->members)
    if (IsAuths(member.name)) return DecodeDockerConfigJson(*doc);
  return DecodeDockerConfig(*doc);
}

Result<std::vector<DockerConfigEntry>> parse_pull_secret(
    std::string_view type, std::string_view data) {
  if (type == "kubernetes.io/dockerconfigjson")
    return parse_dockerconfigjson(data);
  if (type == "kubernetes.io/dockercfg") return parse_dockercfg(data);
  return Error{"type \"" + std::string(type) + "\" is not a pull-secret type"};
}
