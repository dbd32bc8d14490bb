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

// `kind` tells failures of one stage apart for machines (e.g.
// "registries-syntax"); it defaults to the stage.
int Fail(bool json_output, const std::string& stage, const std::string& message,
         const std::string& kind = "") {
  std::cerr << "crio-credential-provider: error: " << log_safe(message) << "\n";
  if (json_output)
    std::cout << json{{"error", message},
                      {"stage", stage},
                      {"kind", kind.empty() ? stage : kind}}
                     .dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
  return 1;
}

int Fail(bool json_output, const std::string& stage, const Error& error) {
  return Fail(json_output, stage, error.message, error.kind);
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
  if (!conf) return Fail(o.json, "registries", conf.error());
  const Registry* registry = find_registry(*conf, ref->name());

  json out = {
      {"image", image},
      {"reference", ref->str()},
      {"name", ref->name()},
      {"authFile", auth_file_name(o.namespace_name, ref->name())},
      {"registry", nullptr},
      {"pullSources", json::array()},
      {"credentialSources", json::array()},
      {"configuration",
       {{"files", conf->files},
        {"unqualifiedSearchRegistries", conf->unqualified_search_registries},
        {"unqualifiedSearchRegistriesOrigin", conf->search_registries_origin},
        {"shortNameMode", effective_short_name_mode(*conf)},
        {"credentialHelpers", effective_credential_helpers(*conf)}}}};
  if (registry) {
    json mirrors = json::array();
    for (const Endpoint& m : registry->mirrors)
      mirrors.push_back({{"location", m.location},
                         {"insecure", m.insecure},
                         {"pullFromMirror", m.pull_from_mirror}});
    out["registry"] = {{"prefix", registry->prefix},
                       {"location", registry->endpoint.location},
                       {"insecure", registry->endpoint.insecure},
                       {"blocked", registry->blocked},
                       {"mirrorByDigestOnly", registry->mirror_by_digest_only},
                       {"mirrors", std::move(mirrors)}};
    auto pulls = pull_sources(*registry, *ref);
    if (!pulls) return Fail(o.json, "registries", pulls.error());
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

  // The auth file CRI-O hands containers/image for this pull: ours, or the
  // global one when we write none.
  auto entries = auth_entries(choices);
  auto global = read_global_auth_file(o.global_auth_file);
  if (!global && !o.auth_file_out.empty())
    return Fail(o.json, "authfile", global.error().message);
  Result<std::string> content = global;
  if (global && !entries.empty()) content = build_auth_file(*global, entries);
  if (!content && !o.auth_file_out.empty())
    return Fail(o.json, "authfile", content.error().message);
  // Beside each pull source, ours and what containers/image reads back.
  for (json& source : out["pullSources"]) {
    auto named = parse_named(source["reference"].get<std::string>());
    std::string repository = named ? named->name() : "";
    source["credential"] = nullptr;
    for (const SourceCredential& c : choices)
      if (c.match && c.source.reference.name() == repository)
        source["credential"] = {{"key", c.match->key},
                                {"username", c.match->credential->username}};
    if (!content) {
      source["authFileCredential"] = {{"error", content.error().message}};
      continue;
    }
    auto found = lookup_auth_file(*content, repository);
    if (!found)
      source["authFileCredential"] = {{"error", found.error().message}};
    else if (!found->helper.empty())
      source["authFileCredential"] = {{"helper", found->helper}};
    else if (found->key.empty())
      source["authFileCredential"] = nullptr;
    else
      source["authFileCredential"] = {{"key", found->key},
                                      {"username", found->username}};
  }

  if (!o.auth_file_out.empty()) {
    if (entries.empty()) {
      std::remove(o.auth_file_out.c_str());
    } else {
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
