#include "credentials.h"

#include <algorithm>
#include <set>

std::vector<PullSource> sources_needing_credentials(
    const RegistriesConf& conf, const Reference& name,
    const std::vector<std::string>& mirror_scopes) {
  std::vector<PullSource> sources;
  const Registry* registry = find_registry(conf, name.name());
  if (!registry) return sources;
  for (PullSource& s : credential_sources(*registry, name)) {
    // containers/image refuses a source whose own name matches a blocked
    // entry, whatever entry the image matched.
    const Registry* own = find_registry(conf, s.reference.name());
    if (own && own->blocked) continue;
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
