#include "resolve.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "authfile.h"
#include "credentials.h"
#include "file.h"
#include "log.h"
#include "reference.h"

namespace {

using nlohmann::json;

// As the provider caps a pull secret read from the API.
constexpr std::size_t kMaxDockercfgBytes = 16u << 20;

int Fail(bool json_output, const std::string& stage,
         const std::string& message) {
  std::cerr << "crio-credential-provider: error: " << log_safe(message) << "\n";
  if (json_output)
    std::cout << json{{"error", message}, {"stage", stage}}.dump(
                     -1, ' ', false, json::error_handler_t::replace)
              << "\n";
  return 1;
}

Result<Keyring> LoadKeyring(const std::vector<std::string>& dockercfg_files) {
  Keyring keyring;
  for (const std::string& path : dockercfg_files) {
    auto text = read_file(path, kMaxDockercfgBytes);
    if (!text)
      return Error{"cannot read --dockercfg \"" + path +
                   "\": " + text.error().message};
    auto entries = parse_docker_config(*text);
    if (!entries)
      return Error{"--dockercfg \"" + path + "\": " + entries.error().message};
    keyring_add(keyring, *entries, path);
  }
  return keyring;
}

json EndpointJson(const PullSource& s) {
  return {{"reference", s.reference.str()},
          {"location", s.endpoint.location},
          {"insecure", s.endpoint.insecure},
          {"mirror", s.mirror}};
}

}  // namespace

int run_resolve(const ResolveOptions& o) {
  if (o.images.size() != 1)
    return Fail(o.json, "usage", "resolve takes exactly one IMAGE");
  const std::string& image = o.images[0];
  auto ref = parse_normalized_named(image);
  if (!ref) return Fail(o.json, "reference", ref.error().message);
  Reference name = *ref;
  name.tag.clear();
  name.digest.clear();

  auto conf = load_registries(o.registries);
  if (!conf) return Fail(o.json, "registries", conf.error().message);
  const Registry* registry = find_registry(*conf, ref->name());

  json out = {{"image", image},
              {"reference", ref->str()},
              {"name", ref->name()},
              {"authFile", auth_file_name(o.namespace_name, ref->name())},
              {"registry", nullptr},
              {"pullSources", json::array()},
              {"credentialSources", json::array()}};
  if (registry) {
    out["registry"] = {{"prefix", registry->prefix},
                       {"location", registry->endpoint.location},
                       {"insecure", registry->endpoint.insecure},
                       {"blocked", registry->blocked},
                       {"mirrorByDigestOnly", registry->mirror_by_digest_only}};
    auto pulls = pull_sources(*registry, *ref);
    if (!pulls) return Fail(o.json, "registries", pulls.error().message);
    for (const PullSource& s : *pulls)
      out["pullSources"].push_back(EndpointJson(s));
  }
  auto sources =
      sources_needing_credentials(*conf, name, o.registries.mirror_registries);
  auto keyring = LoadKeyring(o.dockercfg_files);
  if (!keyring) return Fail(o.json, "dockercfg", keyring.error().message);
  auto choices = choose_credentials(sources, *keyring);
  for (const SourceCredential& c : choices) {
    json entry = EndpointJson(c.source);
    entry["reference"] = c.source.reference.name();
    entry["credential"] = nullptr;
    if (c.match)
      entry["credential"] = {{"key", c.match->key},
                             {"username", c.match->credential->username}};
    out["credentialSources"].push_back(entry);
  }

  if (!o.auth_file_out.empty()) {
    auto entries = auth_entries(choices);
    if (entries.empty()) {
      std::remove(o.auth_file_out.c_str());
    } else {
      auto global = read_global_auth_file(o.global_auth_file);
      if (!global) return Fail(o.json, "authfile", global.error().message);
      auto content = build_auth_file(*global, entries);
      if (!content) return Fail(o.json, "authfile", content.error().message);
      std::string path = o.auth_file_out;
      size_t slash = path.rfind('/');
      std::string dir =
          slash == std::string::npos ? "." : path.substr(0, slash);
      std::string base =
          slash == std::string::npos ? path : path.substr(slash + 1);
      auto out_dir = open_output_dir(dir);
      if (!out_dir) return Fail(o.json, "authfile", out_dir.error().message);
      if (auto w = write_auth_file(*out_dir, base, *content); !w)
        return Fail(o.json, "authfile", w.error().message);
    }
  }

  if (o.json) {
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
    return 0;
  }
  // Text for people: tenant-written keys and names are escaped as in logs.
  std::cout << "name:      " << log_safe(out["name"].get<std::string>()) << "\n"
            << "auth file: " << log_safe(out["authFile"].get<std::string>())
            << "\n"
            << "registry:  "
            << log_safe(registry
                            ? registry->prefix + " -> " +
                                  registry->endpoint.location
                            : std::string("(none: pulled from the source)"))
            << "\n";
  for (const auto& s : out["pullSources"])
    std::cout << "pull:      " << log_safe(s["reference"].get<std::string>())
              << (s["mirror"].get<bool>() ? " (mirror)" : "") << "\n";
  for (const auto& s : out["credentialSources"])
    std::cout << "needs credentials: "
              << log_safe(s["reference"].get<std::string>())
              << (s["credential"].is_null()
                      ? ""
                      : " <- " +
                            log_safe(s["credential"]["key"].get<std::string>()))
              << "\n";
  return 0;
}

int run_match(const MatchOptions& o) {
  if (o.images.size() != 1)
    return Fail(o.json, "usage", "match takes exactly one IMAGE");
  auto keyring = LoadKeyring(o.dockercfg_files);
  if (!keyring) return Fail(o.json, "dockercfg", keyring.error().message);
  json out = json::array();
  for (const KeyringMatch& m : keyring_lookup(*keyring, o.images[0]))
    out.push_back({{"key", m.key},
                   {"username", m.credential->username},
                   {"fallback", m.fallback}});
  if (o.json) {
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
  } else {
    for (const auto& m : out)
      std::cout << log_safe(m["key"].get<std::string>()) << " ("
                << log_safe(m["username"].get<std::string>()) << ")"
                << (m["fallback"].get<bool>() ? " [fallback]" : "") << "\n";
  }
  return 0;
}
