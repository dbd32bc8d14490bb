#include "protocol.h"

#include "duration.h"
#include "json.h"

namespace {

using nlohmann::json;

constexpr std::string_view kGroup = "credentialprovider.kubelet.k8s.io/";

bool KnownVersion(std::string_view v) {
  return v.starts_with(kGroup) && (v.substr(kGroup.size()) == "v1" ||
                                   v.substr(kGroup.size()) == "v1beta1" ||
                                   v.substr(kGroup.size()) == "v1alpha1");
}

}  // namespace

Result<CredentialProviderRequest> parse_request(std::string_view text) {
  if (text.size() > kMaxRequestBytes)
    return Error{
        "the request on stdin is larger than 1 MiB: kubelet sends one "
        "small CredentialProviderRequest; check what runs this plugin"};
  auto parsed = parse_json(text);
  if (parsed && !parsed->is_object()) parsed = Error{"not an object"};
  if (!parsed)
    return Error{"stdin is not a JSON CredentialProviderRequest (" +
                 parsed.error().message +
                 "): this binary is meant to be run by kubelet (see the "
                 "README to try it by hand)"};
  const json& doc = *parsed;
  auto str = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
  };
  CredentialProviderRequest req;
  req.api_version = str("apiVersion");
  if (str("kind") != "CredentialProviderRequest")
    return Error{"stdin has kind \"" + str("kind").substr(0, 64) +
                 "\", not CredentialProviderRequest: check the provider's "
                 "apiVersion in the CredentialProviderConfig"};
  if (!KnownVersion(req.api_version))
    return Error{"unsupported apiVersion \"" + req.api_version.substr(0, 64) +
                 "\": set the provider's apiVersion to "
                 "credentialprovider.kubelet.k8s.io/v1 in the "
                 "CredentialProviderConfig"};
  req.image = str("image");
  if (req.image.empty())
    return Error{
        "the request names no image: kubelet always sends one; check "
        "what runs this plugin"};
  req.service_account_token = str("serviceAccountToken");
  return req;
}

std::string make_response(std::string_view api_version,
                          std::chrono::nanoseconds cache_duration,
                          const std::vector<ResponseAuth>& auth) {
  json entries = json::object();
  for (const ResponseAuth& a : auth)
    entries[a.key] = {{"username", a.username}, {"password", a.password}};
  json response = {
      {"kind", "CredentialProviderResponse"},
      {"apiVersion", api_version},
      {"cacheKeyType", "Image"},
      {"cacheDuration", format_go_duration(cache_duration)},
      {"auth", entries},
  };
  return response.dump() + "\n";
}

std::vector<ResponseAuth> pod_bound_auth(std::string_view image) {
  return {{std::string(image), "", ""}};
}
