#include "gateway_session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "distribution.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  fs::path dir =
      fs::temp_directory_path() / ("ccp-session-" + std::to_string(::getpid()));
  SessionLimits limits{3s, 60s};
  GatewaySessions sessions;
  Logger log{LogLevel::kError, /*to_syslog=*/false};
  SteadyClock::time_point t0 = SteadyClock::now();

  Fixture() { fs::remove_all(dir); }
  ~Fixture() { fs::remove_all(dir); }

  // A stored ticket for `image` and the Authorization that presents it.
  std::string Store(const std::string& image) {
    auto issued =
        new_ticket("team-a", image, 60s, std::chrono::system_clock::now());
    EXPECT_TRUE(issued.ok());
    issued->ticket.sources.push_back({"mirror.corp/hub/team/app", false, true,
                                      true, true, "alice", "s3cret"});
    EXPECT_TRUE(write_ticket(dir, issued->ticket).ok());
    return basic_authorization(issued->credential.username,
                               issued->credential.password);
  }

  std::shared_ptr<GatewaySession> Ask(std::string_view authorization,
                                      SteadyClock::time_point at,
                                      std::string& why) {
    return authorize_request(sessions, limits, dir, authorization, at,
                             std::chrono::system_clock::now(), log, why);
  }
};

}  // namespace

TEST(GatewaySession, RedeemsOnceThenServesThePullUntilIdle) {
  Fixture f;
  std::string auth = f.Store("docker.io/team/app");
  std::string why;
  auto s = f.Ask(auth, f.t0, why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->image.path, "team/app");
  EXPECT_EQ(s->upstream_auth.size(), 1u);
  EXPECT_TRUE(fs::is_empty(f.dir)) << "the ticket file outlived redemption";
  // The same ticket again, within the pull: the same session.
  EXPECT_EQ(f.Ask(auth, f.t0 + 2s, why), s);
  // Quiet for longer than --pull-idle: the pull is over for good.
  EXPECT_FALSE(f.Ask(auth, f.t0 + 6s, why));
  EXPECT_EQ(why, "the ticket's pull is over");
  EXPECT_FALSE(f.Ask(auth, f.t0 + 6s, why));
  EXPECT_TRUE(f.sessions.empty());
}

TEST(GatewaySession, RefusesWhatIsNotThisTicket) {
  Fixture f;
  std::string auth = f.Store("docker.io/team/app");
  std::string why;
  EXPECT_FALSE(f.Ask("", f.t0, why));
  EXPECT_EQ(why, "no credential");
  EXPECT_FALSE(f.Ask("Bearer abc", f.t0, why));
  // The pod's own registry secret, which kubelet offers first.
  EXPECT_FALSE(f.Ask(basic_authorization("alice", "s3cret"), f.t0, why));
  EXPECT_EQ(why, "a credential that is not a ticket");
  ASSERT_TRUE(f.Ask(auth, f.t0, why)) << why;
  // The live session's id with another secret.
  auto user = parse_basic_authorization(auth)->username;
  EXPECT_FALSE(
      f.Ask(basic_authorization(user, std::string(64, 'a')), f.t0, why));
  EXPECT_EQ(why, "wrong ticket secret");
  // A ticket that was never stored.
  auto stranger = new_ticket_credential();
  EXPECT_FALSE(f.Ask(
      basic_authorization(stranger->username, stranger->password), f.t0, why));
  EXPECT_EQ(why.find(stranger->password), std::string::npos);
}

TEST(GatewaySession, SweepSparesPullsInFlightAndEndsOldOnes) {
  Fixture f;
  std::string why, busy_auth = f.Store("docker.io/team/app");
  auto busy = f.Ask(busy_auth, f.t0, why);
  auto quiet = f.Ask(f.Store("docker.io/team/other"), f.t0, why);
  ASSERT_TRUE(busy && quiet) << why;
  busy->active = 1;
  end_quiet_sessions(f.sessions, f.limits, f.t0 + 10s, f.log);
  ASSERT_EQ(f.sessions.size(), 1u);
  EXPECT_EQ(f.sessions.begin()->second, busy);
  // Past --pull-max the ticket serves nothing new, even while a request of
  // its pull still runs (that request keeps its session object).
  EXPECT_FALSE(f.Ask(busy_auth, f.t0 + 61s, why));
  EXPECT_TRUE(f.sessions.empty());
  EXPECT_EQ(busy->active, 1);
}
