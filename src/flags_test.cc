#include "flags.h"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(Flags, BothSyntaxesAndDefaults) {
  auto p = parse_args({"--auth-dir=/a", "--timeout", "3s", "--mirror-registry",
                       "m.io/", "--mirror-registry=n.io", "--secrets=namespace",
                       "--insecure-skip-tls-verify", "--cache-duration=0s"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  const Options& o = p->options;
  EXPECT_EQ(p->command, Command::kProvider);
  EXPECT_EQ(o.auth_dir, "/a");
  EXPECT_EQ(o.timeout, 3s);
  EXPECT_EQ(o.mirror_registries, (std::vector<std::string>{"m.io", "n.io"}));
  EXPECT_EQ(o.secrets, SecretsMode::kNamespace);
  EXPECT_TRUE(o.insecure_skip_tls_verify);
  EXPECT_EQ(o.cache_duration, 0s);
  EXPECT_EQ(o.global_auth_file, "/var/lib/kubelet/config.json");
  EXPECT_EQ(o.stale_after, 5min);

  auto defaults = parse_args({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.auth_dir, "/etc/crio/auth");
  EXPECT_EQ(defaults->options.cache_duration, 0s);
  EXPECT_EQ(defaults->options.secrets, SecretsMode::kPod);
}

TEST(Flags, Subcommands) {
  auto r = parse_args({"resolve", "--json", "--namespace", "team", "nginx"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->command, Command::kResolve);
  EXPECT_TRUE(r->options.json);
  EXPECT_EQ(r->options.namespace_name, "team");
  EXPECT_EQ(r->options.positional, std::vector<std::string>{"nginx"});
  auto m = parse_args({"match", "--dockercfg=a", "--dockercfg", "b", "img"});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->options.dockercfg_files, (std::vector<std::string>{"a", "b"}));
}

TEST(Flags, UsageErrorsNameTheFlag) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--nope"}, "unknown flag --nope"},
      {{"--timeout"}, "--timeout needs a value"},
      {{"--timeout=0s"}, "--timeout takes a positive"},
      {{"--cache-duration=soon"}, "--cache-duration takes"},
      // Kubelet would cache the empty answer and skip the next pulls' files.
      {{"--cache-duration=1m"}, "--cache-duration must be 0s"},
      {{"--cache-duration", "1ns"}, "--cache-duration must be 0s"},
      {{"--secrets=all"}, "--secrets takes pod or namespace"},
      {{"--api-identity=root"}, "--api-identity takes"},
      {{"--log-level=loud"}, "--log-level takes"},
      {{"--mirror-registry=https://m.io"}, "without a scheme"},
      {{"stray"}, "unexpected argument"},
      {{"--json=maybe"}, "takes no value"},
  };
  for (const auto& [args, why] : cases) {
    auto p = parse_args(args);
    ASSERT_FALSE(p.ok()) << args[0];
    EXPECT_NE(p.error().message.find(why), std::string::npos)
        << p.error().message;
  }
}
