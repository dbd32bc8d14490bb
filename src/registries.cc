// Matching a reference to its registries.conf entry and its pull sources
// (FindRegistry, PullSourcesFromReference).
#include "registries.h"

namespace {

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
                     "' for reference '" + text + "'",
                 kPullSource};
  if (endpoint.location.empty()) {
    if (!prefix.starts_with("*."))
      return Error{
          "invalid prefix '" + std::string(prefix) +
              "' for empty location, should be in the format: *.example.com",
          kPullSource};
    return ref;
  }
  auto rewritten = parse_named(endpoint.location + text.substr(covered));
  if (!rewritten)
    return Error{"rewriting reference: " + rewritten.error().message,
                 kPullSource};
  return rewritten;
}

}  // namespace

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
