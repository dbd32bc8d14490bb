#include "keyring.h"

#include <gtest/gtest.h>

namespace {

std::vector<std::string> Lookup(const std::vector<std::string>& keys,
                                const std::string& image) {
  std::vector<DockerConfigEntry> entries;
  for (const auto& k : keys) entries.push_back({k, "user-" + k, "pw"});
  Keyring keyring;
  keyring_add(keyring, entries, "secret");
  std::vector<std::string> out;
  for (const auto& m : keyring_lookup(keyring, image))
    out.push_back((m.fallback ? "fallback:" : "") + m.key);
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST(Keyring, MatchesLikeKubelet) {
  struct Case {
    V keys;
    std::string image;
    V want;
  } cases[] = {
      {{"mirror.io"}, "mirror.io/a/b", {"mirror.io"}},
      {{"https://mirror.io"}, "mirror.io/a", {"mirror.io"}},
      {{"http://mirror.io/v1/"}, "mirror.io/a", {"mirror.io"}},
      {{"mirror.io/v2/team"}, "mirror.io/team/app", {"mirror.io/team"}},
      {{"mirror.io/team"}, "mirror.io/other/app", {}},
      // Path prefixes are string prefixes, as in kubelet.
      {{"mirror.io/team"}, "mirror.io/teamx/app", {"mirror.io/team"}},
      {{"mirror.io", "mirror.io/team"},
       "mirror.io/team/app",
       {"mirror.io/team", "mirror.io"}},
      {{"*.mirror.io"}, "eu.mirror.io/a", {"*.mirror.io"}},
      {{"*.mirror.io"}, "mirror.io/a", {}},  // label counts differ
      {{"*.mirror.io"}, "a.b.mirror.io/a", {}},
      {{"k8s.*.io"}, "k8s.gcr.io/a", {"k8s.*.io"}},
      {{"mirror.io:5000"}, "mirror.io:5000/a", {"mirror.io:5000"}},
      {{"mirror.io:5000"}, "mirror.io/a", {}},
      {{"mirror.io"}, "mirror.io:5000/a", {}},
      // url.Parse reads '?' as the start of a query and a leading '[' as an
      // IPv6 literal, so kubelet never matches these keys as globs.
      {{"m?rror.io"}, "mirror.io/a", {}},
      {{"[a-m]irror.io"}, "mirror.io/a", {}},
      {{"m[h-j]rror.io"}, "mirror.io/a", {"m[h-j]rror.io"}},
      {{"m[^h-j]rror.io"}, "mirror.io/a", {}},
      {{"[bad.io"}, "[bad.io/a", {}},           // malformed glob never matches
      {{"mirror.io:port"}, "mirror.io/a", {}},  // unparsable keys are skipped
      {{"index.docker.io"}, "team/app", {"fallback:index.docker.io"}},
      {{"index.docker.io"}, "docker.io/team/app", {"fallback:index.docker.io"}},
      {{"index.docker.io"}, "quay.io/a", {}},  // a registry host: no fallback
      {{"index.docker.io"}, "localhost:5000/a", {}},
      {{"docker.io"}, "quay.io/a", {}},
  };
  for (const auto& c : cases) {
    std::string keys;
    for (const auto& k : c.keys) keys += k + " ";
    EXPECT_EQ(Lookup(c.keys, c.image), c.want) << keys << "vs " << c.image;
  }
}

TEST(Keyring, SecretsAddedFirstWinForEqualKeys) {
  Keyring keyring;
  keyring_add(keyring, {{"mirror.io", "first", "1"}}, "a");
  keyring_add(keyring, {{"https://mirror.io/", "second", "2"}}, "b");
  auto matches = keyring_lookup(keyring, "mirror.io/x");
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0].credential->username, "first");
  EXPECT_EQ(matches[0].credential->source, "a");
  EXPECT_EQ(matches[1].credential->username, "second");
}

TEST(Keyring, GlobMatch) {
  const std::tuple<const char*, const char*, bool> cases[] = {
      {"*", "anything", true}, {"*", "", true},       {"a*c", "abbbc", true},
      {"a*c", "abbb", false},  {"?", "", false},      {"?", "x", true},
      {"[a-c]", "b", true},    {"[a-c]", "d", false}, {"[^a-c]", "d", true},
      {"\\*", "*", true},      {"\\*", "x", false},   {"[", "[", false},
      {"a[", "b", false},      {"[]a]", "a", false},  {"[\\]]", "]", true},
  };
  for (const auto& [pattern, name, want] : cases)
    EXPECT_EQ(glob_match(pattern, name), want) << pattern << " vs " << name;
}
