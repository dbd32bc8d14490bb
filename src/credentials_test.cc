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
