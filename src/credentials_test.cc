#include "credentials.h"

#include "gtest/gtest.h"

namespace {

PullSource Source(const std::string& name, bool mirror) {
  auto ref = parse_normalized_named(name);
  EXPECT_TRUE(ref.ok()) << name;
  PullSource s;
  s.reference = *ref;
  s.endpoint.location = name.substr(0, name.find('/'));
  s.mirror = mirror;
  return s;
}

Keyring KeyringOf(const std::vector<DockerConfigEntry>& entries) {
  Keyring k;
  keyring_add(k, entries, "secret-a");
  return k;
}

TEST(ChooseCredentials, SkipsFallbackAndColonUserNames) {
  Keyring keyring = KeyringOf({
      {"https://index.docker.io/v1/", "hub-user", "hub-pass"},
      {"mirror.example.com/hub", "bad:user", "p1"},
      {"mirror.example.com", "mirror-user", "p2"},
  });
  auto choices = choose_credentials({Source("mirror.example.com/hub/app", true),
                                     Source("other.example.com/app", false)},
                                    keyring);
  ASSERT_EQ(choices.size(), 2u);
  ASSERT_TRUE(choices[0].match.has_value());
  EXPECT_EQ(choices[0].match->key, "mirror.example.com");
  EXPECT_EQ(choices[0].match->credential->username, "mirror-user");
  // Only Docker Hub's fallback would match: a mirror must not get it.
  EXPECT_FALSE(choices[1].match.has_value());
}

TEST(AuthEntries, OneEntryPerRepositoryFirstWins) {
  Keyring keyring = KeyringOf({{"mirror.example.com", "u1", "p1"}});
  auto choices = choose_credentials({Source("mirror.example.com/hub/app", true),
                                     Source("mirror.example.com/hub/app", true),
                                     Source("plain.example.com/app", false)},
                                    keyring);
  auto entries = auth_entries(choices);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "mirror.example.com/hub/app");
  EXPECT_EQ(entries[0].username, "u1");
}

}  // namespace

namespace {

Keyring TicketKeyring(const std::vector<DockerConfigEntry>& entries) {
  Keyring k;
  keyring_add(k, entries, "pull-secret");
  return k;
}

}  // namespace

TEST(TicketSources, MirrorCredentialNeverGoesToTheRegistry) {
  auto conf = parse_registries(R"(
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.corp/hub"
[[registry.mirror]]
location = "digests.corp/hub"
pull-from-mirror = "digest-only"
)",
                               "test");
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  auto name = parse_normalized_named("nginx");
  ASSERT_TRUE(name.ok());
  Keyring keyring = TicketKeyring(
      {{"mirror.corp", "alice", "mirror-pw"}, {"docker.io", "bob", "hub-pw"}});
  auto sources = ticket_sources(*conf, *name, {}, keyring);
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0].repository, "mirror.corp/hub/library/nginx");
  EXPECT_EQ(sources[0].username, "alice");
  EXPECT_TRUE(sources[0].tags && sources[0].digests);
  EXPECT_EQ(sources[1].repository, "digests.corp/hub/library/nginx");
  EXPECT_EQ(sources[1].username, "");
  EXPECT_FALSE(sources[1].tags);
  EXPECT_TRUE(sources[1].digests);
  EXPECT_EQ(sources[2].repository, "docker.io/library/nginx");
  EXPECT_FALSE(sources[2].mirror);
  EXPECT_EQ(sources[2].username, "bob");
  EXPECT_EQ(sources[2].password, "hub-pw");
}

TEST(TicketSources, ScopesBlockedAndUnconfigured) {
  auto conf = parse_registries(R"(
[[registry]]
location = "quay.io"
[[registry.mirror]]
location = "mirror.corp/quay"
[[registry]]
location = "mirror.corp/quay"
blocked = true
[[registry]]
location = "ghcr.io"
[[registry.mirror]]
location = "other.corp/ghcr"
)",
                               "test");
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  Keyring keyring = TicketKeyring({{"other.corp", "alice", "pw"}});
  auto quay = ticket_sources(*conf, *parse_normalized_named("quay.io/a/b"), {},
                             keyring);
  ASSERT_EQ(quay.size(), 1u);
  EXPECT_EQ(quay[0].repository, "quay.io/a/b");
  auto ghcr = ticket_sources(*conf, *parse_normalized_named("ghcr.io/a/b"),
                             {"mirror.corp"}, keyring);
  ASSERT_EQ(ghcr.size(), 2u);
  EXPECT_EQ(ghcr[0].username, "") << "outside --mirror-registry";
  auto plain = ticket_sources(*conf, *parse_normalized_named("example.com/x"),
                              {}, keyring);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].repository, "example.com/x");
}
