#include "reference.h"

#include <gtest/gtest.h>

struct NormalizeCase {
  const char* input;
  const char* name;       // nullptr: must be rejected
  const char* reference;  // full normalized string
};

TEST(Reference, NormalizesLikeContainersImage) {
  const std::string hex64(64, 'a');
  const std::string digest = "sha256:" + hex64;
  const NormalizeCase cases[] = {
      {"nginx", "docker.io/library/nginx", "docker.io/library/nginx"},
      {"nginx:1.27", "docker.io/library/nginx", "docker.io/library/nginx:1.27"},
      {"docker.io/library/nginx:1.27", "docker.io/library/nginx",
       "docker.io/library/nginx:1.27"},
      {"index.docker.io/nginx", "docker.io/library/nginx",
       "docker.io/library/nginx"},
      {"team/app", "docker.io/team/app", "docker.io/team/app"},
      {"localhost/app", "localhost/app", "localhost/app"},
      {"localhost:5000/a/b/c:v1", "localhost:5000/a/b/c",
       "localhost:5000/a/b/c:v1"},
      {"Quay.IO/org/app", "Quay.IO/org/app", "Quay.IO/org/app"},
      {"host:5000/app", "host:5000/app", "host:5000/app"},
      {"a_b.c/x", "a_b.c/x", "a_b.c/x"},  // not a domain: the whole is a path
      {"registry.io/a__b/c--d/e.f", "registry.io/a__b/c--d/e.f",
       "registry.io/a__b/c--d/e.f"},
      {"Nginx", nullptr, nullptr},
      {"docker.io/Library/nginx", nullptr, nullptr},
      {"nginx:", nullptr, nullptr},
      {"nginx@", nullptr, nullptr},
      {"", nullptr, nullptr},
      {"/nginx", nullptr, nullptr},
      {"nginx/", nullptr, nullptr},
      {"a//b", nullptr, nullptr},
      {"a._b", nullptr, nullptr},
      {"a___b", nullptr, nullptr},
      {"-a", nullptr, nullptr},
      {"host:port/app", nullptr, nullptr},
      {"[::1]:5000/app", nullptr, nullptr},  // no IPv6 in v5.40's grammar
      {"nginx:-tag", nullptr, nullptr},
      {"nginx@sha256:abc", nullptr, nullptr},
      {"nginx@md5:0123456789abcdef0123456789abcdef", nullptr, nullptr},
      {"nginx@sha256:"
       "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
       nullptr, nullptr},
  };
  for (const auto& c : cases) {
    auto ref = parse_normalized_named(c.input);
    if (!c.name) {
      EXPECT_FALSE(ref.ok()) << c.input << " -> " << (ref ? ref->str() : "");
      continue;
    }
    ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.error().message;
    EXPECT_EQ(ref->name(), c.name) << c.input;
    EXPECT_EQ(ref->str(), c.reference) << c.input;
  }
  auto with_digest = parse_normalized_named("nginx:1@" + digest);
  ASSERT_TRUE(with_digest.ok());
  EXPECT_EQ(with_digest->str(), "docker.io/library/nginx:1@" + digest);
  EXPECT_FALSE(parse_normalized_named(hex64).ok());
}

TEST(Reference, Limits) {
  std::string tag128(128, 't'), tag129(129, 't');
  EXPECT_TRUE(parse_normalized_named("x:" + tag128).ok());
  EXPECT_FALSE(parse_normalized_named("x:" + tag129).ok());
  // 255 characters of name, counting "docker.io/".
  std::string path(255 - 10, 'a');
  EXPECT_TRUE(parse_normalized_named("docker.io/" + path.substr(0, 122) + "/" +
                                     path.substr(123))
                  .ok());
  EXPECT_FALSE(parse_normalized_named("docker.io/" + path + "/b").ok());
}

TEST(Reference, ParseNamedNeedsCanonicalForm) {
  EXPECT_TRUE(parse_named("docker.io/library/nginx").ok());
  EXPECT_TRUE(parse_named("mirror.example.com/hub/library/nginx:1").ok());
  EXPECT_FALSE(parse_named("nginx").ok());
  EXPECT_FALSE(parse_named("docker.io/nginx").ok());
  EXPECT_FALSE(parse_named("index.docker.io/library/nginx").ok());
}

TEST(Reference, ErrorNamesTheInput) {
  auto ref = parse_normalized_named("Bad/Name");
  ASSERT_FALSE(ref.ok());
  EXPECT_NE(ref.error().message.find("\"Bad/Name\""), std::string::npos);
  EXPECT_NE(ref.error().message.find("lowercase"), std::string::npos);
}
