#include "dockercfg.h"

#include <algorithm>

#include "base64.h"
#include "json.h"
#include "text.h"

namespace {

using nlohmann::json;

// Go's encoding/json matches struct fields case-insensitively; a null
// leaves the field as it is.
Result<Ok> TakeString(const json& value, std::string& out,
                      std::string_view field) {
  if (value.is_null()) return Ok{};
  if (!value.is_string())
    return Error{"field \"" + std::string(field) + "\" is not a string"};
  out = value.get<std::string>();
  return Ok{};
}

// An "auth" value is base64 of "user:password"; padded or not, as kubelet
// accepts it. Never echo the value in an error.
Result<Ok> DecodeAuth(const std::string& auth, DockerConfigEntry& entry) {
  auto decoded = base64_decode(auth);
  if (!decoded) return Error{"\"auth\" is not valid base64"};
  size_t colon = decoded->find(':');
  if (colon == std::string::npos)
    return Error{"\"auth\" must be base64 of username:password"};
  entry.username = decoded->substr(0, colon);
  entry.password = decoded->substr(colon + 1);
  return Ok{};
}

Result<std::vector<DockerConfigEntry>> ParseEntries(const json& object) {
  std::vector<DockerConfigEntry> entries;
  if (object.is_null()) return entries;
  if (!object.is_object()) return Error{"registry entries must be an object"};
  for (const auto& [key, value] : object.items()) {
    DockerConfigEntry entry{key, "", ""};
    if (value.is_null()) {
      entries.push_back(entry);
      continue;
    }
    if (!value.is_object())
      return Error{"entry \"" + key + "\" is not an object"};
    std::string auth;
    for (const auto& [field, v] : value.items()) {
      Result<Ok> taken = Ok{};
      if (equals_ignore_case(field, "username"))
        taken = TakeString(v, entry.username, "username");
      else if (equals_ignore_case(field, "password"))
        taken = TakeString(v, entry.password, "password");
      else if (equals_ignore_case(field, "auth"))
        taken = TakeString(v, auth, "auth");
      else if (equals_ignore_case(field, "email")) {
        std::string ignored;
        taken = TakeString(v, ignored, "email");
      }
      if (!taken)
        return Error{"entry \"" + key + "\": " + taken.error().message};
    }
    if (!auth.empty()) {
      if (auto decoded = DecodeAuth(auth, entry); !decoded)
        return Error{"entry \"" + key + "\": " + decoded.error().message};
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<json> ParseJson(std::string_view text) { return parse_json(text); }

const json* FindAuths(const json& doc) {
  for (const auto& [key, value] : doc.items())
    if (equals_ignore_case(key, "auths")) return &value;
  return nullptr;
}

}  // namespace

Result<std::vector<DockerConfigEntry>> parse_dockerconfigjson(
    std::string_view text) {
  auto doc = ParseJson(text);
  if (!doc) return doc.error();
  if (!doc->is_object()) return Error{"not a JSON object"};
  const json* auths = FindAuths(*doc);
  if (!auths) return std::vector<DockerConfigEntry>{};
  return ParseEntries(*auths);
}

Result<std::vector<DockerConfigEntry>> parse_dockercfg(std::string_view text) {
  auto doc = ParseJson(text);
  if (!doc) return doc.error();
  return ParseEntries(*doc);
}

Result<std::vector<DockerConfigEntry>> parse_docker_config(
    std::string_view text) {
  auto doc = ParseJson(text);
  if (!doc) return doc.error();
  if (!doc->is_object()) return Error{"not a JSON object"};
  const json* auths = FindAuths(*doc);
  if (auths && auths->is_object()) return ParseEntries(*auths);
  return ParseEntries(*doc);
}

Result<std::vector<DockerConfigEntry>> parse_pull_secret(
    std::string_view type, std::string_view data) {
  if (type == "kubernetes.io/dockerconfigjson")
    return parse_dockerconfigjson(data);
  if (type == "kubernetes.io/dockercfg") return parse_dockercfg(data);
  return Error{"type \"" + std::string(type) + "\" is not a pull-secret type"};
}
