#include "credentials.h"

#include <algorithm>
#include <set>

namespace {

// containers/image refuses a source whose own name matches a blocked entry,
// whatever entry the image matched.
bool Blocked(const RegistriesConf& conf, const PullSource& s) {
  const Registry* own = find_registry(conf, s.reference.name());
  return own && own->blocked;
}

}  // namespace

std::vector<PullSource> sources_needing_credentials(
    const RegistriesConf& conf, const Reference& name,
    const std::vector<std::string>& mirror_scopes) {
  std::vector<PullSource> sources;
  const Registry* registry = find_registry(conf, name.name());
  if (!registry) return sources;
  for (PullSource& s : credential_sources(*registry, name)) {
    if (Blocked(conf, s)) continue;
    bool in_scope =
        mirror_scopes.empty() ||
        std::any_of(mirror_scopes.begin(), mirror_scopes.end(),
                    [&](const std::string& scope) {
                      return location_within(s.endpoint.location, scope);
                    });
    if (in_scope) sources.push_back(std::move(s));
  }
  return sources;
}

std::vector<SourceCredential> choose_credentials(
    const std::vector<PullSource>& sources, const Keyring& keyring) {
  std::vector<SourceCredential> choices;
  for (const PullSource& s : sources) {
    SourceCredential choice{s, std::nullopt};
    for (const KeyringMatch& m : keyring_lookup(keyring, s.reference.name()))
      // An auth file entry is base64("user:password"): a user name with a
      // ':' would be read back split in the wrong place, and basic auth
      // (RFC 7617) forbids it anyway.
      if (!m.fallback &&
          m.credential->username.find(':') == std::string::npos) {
        choice.match = m;
        break;
      }
    choices.push_back(std::move(choice));
  }
  return choices;
}

std::vector<AuthEntry> auth_entries(
    const std::vector<SourceCredential>& choices) {
  std::vector<AuthEntry> entries;
  std::set<std::string> keys;
  for (const SourceCredential& c : choices) {
    if (!c.match) continue;
    std::string key = c.source.reference.name();
    // Two sources with the same repository (a mirror listed twice): the
    // first one's credential is what containers/image would use first.
    if (!keys.insert(key).second) continue;
    entries.push_back(
        {key, c.match->credential->username, c.match->credential->password});
  }
  return entries;
}

std::vector<TicketSource> ticket_sources(
    const RegistriesConf& conf, const Reference& name,
    const std::vector<std::string>& mirror_scopes, const Keyring& keyring) {
  std::vector<TicketSource> out;
  auto add = [&](const PullSource& s, bool tags, bool digests) {
    if (Blocked(conf, s)) return;
    TicketSource t;
    t.repository = s.reference.name();
    t.insecure = s.endpoint.insecure;
    t.mirror = s.mirror;
    t.tags = tags;
    t.digests = digests;
    out.push_back(std::move(t));
  };
  const Registry* registry = find_registry(conf, name.name());
  if (!registry) {
    Endpoint own;
    own.location = name.domain;
    add(PullSource{own, name, false}, true, true);
  } else {
    // Which sources containers/image tries for a tag and for a digest; the
    // gateway applies the same filter per request.
    Reference tagged = name, digested = name;
    tagged.tag = "latest";
    digested.digest = "sha256:" + std::string(64, '0');
    auto by_tag = pull_sources(*registry, tagged);
    auto by_digest = pull_sources(*registry, digested);
    std::vector<PullSource> none;
    const auto& tag_list = by_tag ? *by_tag : none;
    const auto& digest_list = by_digest ? *by_digest : none;
    auto find = [](const std::vector<PullSource>& list, const Endpoint& e,
                   bool mirror) -> const PullSource* {
      for (const PullSource& s : list)
        if (s.endpoint.location == e.location && s.mirror == mirror) return &s;
      return nullptr;
    };
    std::vector<const Endpoint*> endpoints;
    for (const Endpoint& m : registry->mirrors) endpoints.push_back(&m);
    endpoints.push_back(&registry->endpoint);
    for (const Endpoint* e : endpoints) {
      bool mirror = e != &registry->endpoint;
      const PullSource* by_t = find(tag_list, *e, mirror);
      const PullSource* by_d = find(digest_list, *e, mirror);
      if (!by_t && !by_d) continue;
      PullSource named = by_t ? *by_t : *by_d;
      named.reference.tag.clear();
      named.reference.digest.clear();
      add(named, by_t != nullptr, by_d != nullptr);
    }
  }
  // Credentials exactly as for CRI-O's auth file; the registry's own
  // location gets only what the keyring gives for its own name.
  auto choices = choose_credentials(
      sources_needing_credentials(conf, name, mirror_scopes), keyring);
  for (TicketSource& t : out) {
    std::optional<KeyringMatch> match;
    for (const SourceCredential& c : choices)
      if (c.source.reference.name() == t.repository &&
          c.source.mirror == t.mirror)
        match = c.match;
    if (!t.mirror && t.repository == name.name()) {
      Endpoint own;
      own.location = name.domain;
      match = choose_credentials({PullSource{own, name, false}}, keyring)
                  .front()
                  .match;
    }
    if (match) {
      t.username = match->credential->username;
      t.password = match->credential->password;
    }
  }
  return out;
}
