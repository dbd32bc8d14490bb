#include "flags.h"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(Flags, BothSyntaxesAndDefaults) {
  auto p = parse_args({"--auth-dir=/a", "--timeout", "3s", "--mirror-registry",
                       "m.io/", "--mirror-registry=n.io", "--secrets=namespace",
                       "--insecure-skip-tls-verify", "--cache-duration=0s"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->command, Command::kProvider);
  const auto& o = std::get<ProviderOptions>(p->options);
  EXPECT_EQ(o.crio.auth_dir, "/a");
  EXPECT_EQ(o.cluster.timeout, 3s);
  EXPECT_EQ(o.registries.mirror_registries,
            (std::vector<std::string>{"m.io", "n.io"}));
  EXPECT_EQ(o.secrets, SecretsMode::kNamespace);
  EXPECT_TRUE(o.cluster.insecure_skip_tls_verify);
  EXPECT_EQ(o.cache_duration, 0s);
  EXPECT_EQ(o.global_auth_file, "/var/lib/kubelet/config.json");
  EXPECT_EQ(o.crio.stale_after, 5min);

  auto defaults = parse_args({});
  ASSERT_TRUE(defaults.ok());
  const auto& d = std::get<ProviderOptions>(defaults->options);
  EXPECT_EQ(d.crio.auth_dir, "/etc/crio/auth");
  EXPECT_EQ(d.cache_duration, 0s);
  EXPECT_EQ(d.secrets, SecretsMode::kPod);
}

TEST(Flags, Subcommands) {
  auto r = parse_args({"resolve", "--json", "--namespace", "team", "nginx"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->command, Command::kResolve);
  const auto& resolve = std::get<ResolveOptions>(r->options);
  EXPECT_TRUE(resolve.json);
  EXPECT_EQ(resolve.namespace_name, "team");
  EXPECT_EQ(resolve.images, std::vector<std::string>{"nginx"});
  auto m = parse_args({"match", "--dockercfg=a", "--dockercfg", "b", "img"});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::get<MatchOptions>(m->options).dockercfg_files,
            (std::vector<std::string>{"a", "b"}));

  // doctor: the provider's flags given to it, and which were given.
  auto d = parse_args({"doctor", "--timeout=2s", "--auth-dir=/x", "--json"});
  ASSERT_TRUE(d.ok()) << d.error().message;
  const auto& doctor = std::get<DoctorOptions>(d->options);
  EXPECT_TRUE(doctor.json);
  EXPECT_TRUE(doctor.timeout_given);
  EXPECT_FALSE(doctor.kubelet_root_dir_given);
  EXPECT_EQ(doctor.provider.cluster.timeout, 2s);
  EXPECT_EQ(doctor.provider.crio.auth_dir, "/x");

  auto c = parse_provider_args({"--runtime=containerd", "--ticket-ttl=1m"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->runtime, Runtime::kContainerd);
  EXPECT_EQ(c->ticket.ticket_ttl, 1min);
  EXPECT_FALSE(parse_provider_args({"resolve"}).ok());
}

// The table in usage.cc says which command takes which flag: a flag of
// another command is a usage error, not silently ignored.
TEST(Flags, EachCommandTakesOnlyItsFlags) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--dockercfg=a"}, "--dockercfg is not a flag of the provider mode"},
      {{"resolve", "--api-server=https://x", "nginx"},
       "--api-server is not a flag of resolve: see resolve --help"},
      {{"match", "--registries-conf=/r", "nginx"},
       "--registries-conf is not a flag of match"},
      {{"doctor", "--audience=a"}, "--audience is not a flag of doctor"},
      {{"kubelet-config", "--crio-bin=x"},
       "--crio-bin is not a flag of kubelet-config"},
      {{"doctor", "extra"}, "doctor takes only flags"},
      {{"kubelet-config", "extra"}, "kubelet-config takes only flags"},
  };
  for (const auto& [args, why] : cases) {
    auto p = parse_args(args);
    ASSERT_FALSE(p.ok()) << args[0];
    EXPECT_NE(p.error().message.find(why), std::string::npos)
        << p.error().message;
  }
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
      {{"resolve", "--json=maybe"}, "takes no value"},
      {{"--insecure-skip-tls-verify=1"}, "takes no value"},
  };
  for (const auto& [args, why] : cases) {
    auto p = parse_args(args);
    ASSERT_FALSE(p.ok()) << args[0];
    EXPECT_NE(p.error().message.find(why), std::string::npos)
        << p.error().message;
  }
}
