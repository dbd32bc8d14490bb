#include "api_objects.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "base64.h"
#include "json.h"

namespace {

using Json = nlohmann::json;

constexpr char kDockerConfigJson[] = "kubernetes.io/dockerconfigjson";
constexpr char kDockerCfg[] = "kubernetes.io/dockercfg";

// Object member `key` when present and not null.
const Json* Member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// Reads an optional string member; false when it has another type.
bool OptString(const Json& obj, const char* key, std::string* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  *out = v->get<std::string>();
  return true;
}

// names of a `[{name: ...}]` list (LocalObjectReference); false on bad type.
bool NameList(const Json& obj, const char* key, std::vector<std::string>* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return true;
  if (!v->is_array()) return false;
  for (const Json& ref : *v) {
    if (!ref.is_object()) return false;
    std::string name;
    if (!OptString(ref, "name", &name)) return false;
    if (!name.empty()) out->push_back(std::move(name));
  }
  return true;
}

Result<Json> ParseObject(std::string_view body) {
  auto parsed = parse_json(body);
  if (!parsed) return Error{"response is " + parsed.error().message};
  if (!parsed->is_object()) return Error{"response is not a JSON object"};
  return std::move(*parsed);
}

// A Secret object into a PullSecret. Errors only when metadata.name or type
// has the wrong JSON type.
Result<PullSecret> ToPullSecret(const Json& obj) {
  PullSecret s;
  const Json* meta = Member(obj, "metadata");
  if (meta != nullptr && !OptString(*meta, "name", &s.name)) {
    return Error{"secret metadata.name is not a string"};
  }
  if (!OptString(obj, "type", &s.type)) {
    return Error{"secret \"" + s.name + "\": type is not a string"};
  }
  const char* key = s.type == kDockerConfigJson ? ".dockerconfigjson"
                    : s.type == kDockerCfg      ? ".dockercfg"
                                                : nullptr;
  const Json* data = Member(obj, "data");
  if (key != nullptr && data != nullptr && data->is_object()) {
    const Json* value = Member(*data, key);
    if (value != nullptr && value->is_string()) {
      auto decoded = base64_decode(value->get_ref<const std::string&>());
      if (decoded) s.config = std::move(*decoded);
    }
  }
  return s;
}

}  // namespace

Result<Pod> decode_pod(std::string_view body) {
  auto j = ParseObject(body);
  if (!j) return j.error();
  Pod pod;
  const Json* meta = Member(*j, "metadata");
  if (meta != nullptr && !OptString(*meta, "uid", &pod.uid)) {
    return Error{"pod metadata.uid is not a string"};
  }
  const Json* spec = Member(*j, "spec");
  if (spec == nullptr) return pod;
  if (!OptString(*spec, "nodeName", &pod.node_name)) {
    return Error{"pod spec.nodeName is not a string"};
  }
  if (!OptString(*spec, "serviceAccountName", &pod.service_account)) {
    return Error{"pod spec.serviceAccountName is not a string"};
  }
  if (pod.service_account.empty() &&
      !OptString(*spec, "serviceAccount", &pod.service_account)) {
    return Error{"pod spec.serviceAccount is not a string"};
  }
  if (!NameList(*spec, "imagePullSecrets", &pod.image_pull_secrets)) {
    return Error{"pod spec.imagePullSecrets is not a list of names"};
  }
  return pod;
}

Result<std::vector<std::string>> decode_service_account_pull_secrets(
    std::string_view body) {
  auto j = ParseObject(body);
  if (!j) return j.error();
  std::vector<std::string> names;
  if (!NameList(*j, "imagePullSecrets", &names)) {
    return Error{"serviceaccount imagePullSecrets is not a list of names"};
  }
  return names;
}

Result<PullSecret> decode_secret(std::string_view body) {
  auto j = ParseObject(body);
  if (!j) return j.error();
  return ToPullSecret(*j);
}

Result<SecretListPage> decode_secret_list(std::string_view body) {
  auto j = ParseObject(body);
  if (!j) return j.error();
  SecretListPage page;
  const Json* meta = Member(*j, "metadata");
  if (meta != nullptr && !OptString(*meta, "continue", &page.continue_token)) {
    return Error{"secret list metadata.continue is not a string"};
  }
  if (page.continue_token.size() > kMaxContinueToken) {
    return Error{"secret list metadata.continue is longer than " +
                 std::to_string(kMaxContinueToken) + " bytes"};
  }
  for (char c : page.continue_token) {
    if (c <= ' ' || c > '~') {
      return Error{
          "secret list metadata.continue holds a byte that is not "
          "printable ASCII"};
    }
  }
  const Json* items = Member(*j, "items");
  if (items == nullptr) return page;
  if (!items->is_array()) return Error{"secret list items is not a list"};
  page.items.reserve(items->size());
  for (const Json& item : *items) {
    if (!item.is_object()) return Error{"secret list item is not an object"};
    auto secret = ToPullSecret(item);
    if (!secret) return secret.error();
    page.items.push_back(std::move(*secret));
  }
  return page;
}

ApiStatus decode_status(std::string_view body) {
  ApiStatus status;
  auto parsed = parse_json(body);
  if (!parsed || !parsed->is_object()) return status;
  if (!OptString(*parsed, "reason", &status.reason)) status.reason.clear();
  if (!OptString(*parsed, "message", &status.message)) status.message.clear();
  return status;
}
