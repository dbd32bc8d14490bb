#include "token.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base64.h"
#include "json.h"

namespace {

using nlohmann::json;

std::string StringAt(const json& object,
                     std::initializer_list<const char*> path) {
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) return "";
    auto it = node->find(key);
    if (it == node->end()) return "";
    node = &*it;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

bool IsLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

bool is_dns1123_label(std::string_view s) {
  return !s.empty() && s.size() <= 63 && s.front() != '-' && s.back() != '-' &&
         std::all_of(s.begin(), s.end(), IsLabelChar);
}

bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), IsLabelChar))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Result<PodIdentity> identity_from_token(std::string_view jwt) {
  const Error malformed{
      "the service-account token is not a JWT: kubelet must pass a "
      "projected service-account token (set tokenAttributes in the "
      "CredentialProviderConfig)"};
  size_t first = jwt.find('.');
  size_t second =
      first == std::string_view::npos ? first : jwt.find('.', first + 1);
  if (second == std::string_view::npos ||
      jwt.find('.', second + 1) != std::string_view::npos)
    return malformed;
  auto payload = base64url_decode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return malformed;
  auto parsed = parse_json(*payload);
  if (!parsed || !parsed->is_object()) return malformed;
  const json& claims = *parsed;

  PodIdentity id;
  id.ns = StringAt(claims, {"kubernetes.io", "namespace"});
  id.pod_name = StringAt(claims, {"kubernetes.io", "pod", "name"});
  id.pod_uid = StringAt(claims, {"kubernetes.io", "pod", "uid"});
  id.service_account =
      StringAt(claims, {"kubernetes.io", "serviceaccount", "name"});
  id.node_name = StringAt(claims, {"kubernetes.io", "node", "name"});
  // Older tokens carry only the subject system:serviceaccount:<ns>:<name>.
  std::string sub = StringAt(claims, {"sub"});
  constexpr std::string_view kPrefix = "system:serviceaccount:";
  if (sub.starts_with(kPrefix)) {
    std::string_view rest = std::string_view(sub).substr(kPrefix.size());
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      if (id.ns.empty()) id.ns = std::string(rest.substr(0, colon));
      if (id.service_account.empty())
        id.service_account = std::string(rest.substr(colon + 1));
    }
  }
  if (id.ns.empty())
    return Error{
        "the service-account token names no namespace: kubelet must "
        "pass a pod-bound service-account token (tokenAttributes)"};
  if (!is_dns1123_label(id.ns))
    return Error{"the token's namespace \"" + id.ns.substr(0, 80) +
                 "\" is not a DNS-1123 label: refusing to use it in a file "
                 "name; check the token kubelet passes"};
  if (id.pod_name.empty())
    return Error{
        "the service-account token is not bound to a pod: kubelet "
        ">= 1.33 binds it when the "
        "KubeletServiceAccountTokenForCredentialProviders "
        "feature gate is on and tokenAttributes is set"};
  if (!is_dns1123_subdomain(id.pod_name) ||
      (!id.service_account.empty() &&
       !is_dns1123_subdomain(id.service_account)))
    return Error{
        "the token's pod or service-account name is not a valid "
        "Kubernetes name: check the token kubelet passes"};
  return id;
}
