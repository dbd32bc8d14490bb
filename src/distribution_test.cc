#include "distribution.h"

#include <gtest/gtest.h>

TEST(RegistryTarget, ParsesManifestsBlobsAndNs) {
  auto m =
      parse_registry_target("/v2/library/nginx/manifests/1.27?ns=docker.io");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, RegistryRoute::Kind::kManifest);
  EXPECT_EQ(m->repository, "library/nginx");
  EXPECT_EQ(m->reference, "1.27");
  EXPECT_FALSE(m->by_digest);
  EXPECT_EQ(m->ns, "docker.io");

  std::string digest = "sha256:" + std::string(64, 'a');
  auto b = parse_registry_target("/v2/a/b__c/blobs/" + digest +
                                 "?ns=localhost%3A5000");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->kind, RegistryRoute::Kind::kBlob);
  EXPECT_TRUE(b->by_digest);
  EXPECT_EQ(b->ns, "localhost:5000");
  // A repository may itself contain "manifests".
  auto nested = parse_registry_target("/v2/x/manifests/y/manifests/latest");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->repository, "x/manifests/y");
  EXPECT_EQ(parse_registry_target("/v2/")->kind, RegistryRoute::Kind::kBase);
}

TEST(RegistryTarget, RejectsWhatCouldEscape) {
  for (const char* bad :
       {"/v2/../etc/manifests/x", "/v2/Library/nginx/manifests/x",
        "/v2/a//b/manifests/x", "/v2/a/blobs/latest", "/v2/a/manifests/-x",
        "/v2/a/manifests/x%0d%0a", "/v2/a/manifests/x?ns=a%0ab", "/other",
        "/v2/a/tags/list", "/v2/a./manifests/x"})
    EXPECT_FALSE(parse_registry_target(bad).ok()) << bad;
}

TEST(BasicAuthorization, RoundTripsAndRejects) {
  auto c = parse_basic_authorization(basic_authorization("ccpt-x", "p:w"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "ccpt-x");
  EXPECT_EQ(c->password, "p:w");
  EXPECT_FALSE(parse_basic_authorization("Bearer abc").has_value());
  EXPECT_FALSE(parse_basic_authorization("Basic !!!").has_value());
  EXPECT_FALSE(parse_basic_authorization("Basic bm9jb2xvbg==").has_value());
}

TEST(Challenge, ParsesBearerAndBasic) {
  auto c = parse_challenge(
      R"(Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example.com/token");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");
  auto b = parse_challenge("Basic realm=\"Registry \\\"Realm\\\"\"");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->scheme, "basic");
  EXPECT_EQ(b->params["realm"], "Registry \"Realm\"");
  EXPECT_FALSE(parse_challenge("Bearer realm=\"open").has_value());
  EXPECT_FALSE(parse_challenge("").has_value());
}

TEST(Location, ResolvesRedirects) {
  Location base{"https", "mirror.corp", 5000, "/v2/a/blobs/x"};
  auto rel = resolve_location(base, "/other?x=1");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->origin(), "mirror.corp:5000");
  EXPECT_EQ(rel->target, "/other?x=1");
  auto abs =
      resolve_location(base, "https://s3.example.com/bucket/obj?sig=a#f");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->origin(), "s3.example.com:443");
  EXPECT_EQ(abs->target, "/bucket/obj?sig=a");
  auto v6 = resolve_location(base, "//[::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->origin(), "[::1]:8443");
  EXPECT_EQ(v6->target, "/");
  EXPECT_EQ(resolve_location(base, "http://x.example/")->port, 80);
  EXPECT_FALSE(resolve_location(base, "ftp://x/").ok());
  EXPECT_FALSE(resolve_location(base, "https://a b/").ok());
  EXPECT_FALSE(resolve_location(base, "https://user@host/").ok());
}

TEST(QueryEscape, EscapesAllButUnreserved) {
  EXPECT_EQ(query_escape("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
}
