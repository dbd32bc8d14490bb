#include "ticket.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path TempDir(const std::string& tag) {
  fs::path dir = fs::temp_directory_path() /
                 ("ccp-ticket-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// A ticket for `image` valid for `ttl` from now, and its credential.
std::pair<Ticket, TicketCredential> Make(const std::string& image,
                                         std::chrono::seconds ttl) {
  auto issued =
      new_ticket("team-a", image, ttl, std::chrono::system_clock::now());
  EXPECT_TRUE(issued.ok());
  Ticket& t = issued->ticket;
  t.sources.push_back({"mirror.corp/hub/library/nginx", false, true, true,
                       false, "alice", "s3cret"});
  t.sources.push_back(
      {"docker.io/library/nginx", false, false, true, true, "", ""});
  return {t, issued->credential};
}

}  // namespace

TEST(Ticket, IdsAreRandomAndWellFormed) {
  auto a = new_ticket_credential();
  auto b = new_ticket_credential();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(is_ticket_id(a->username));
  EXPECT_NE(a->username, b->username);
  EXPECT_NE(a->password, b->password);
  EXPECT_EQ(a->password.size(), 64u);
  EXPECT_EQ(a->password.find(':'), std::string::npos);
  EXPECT_FALSE(is_ticket_id("ccpt-../../etc/passwd0000000000000000"));
  EXPECT_FALSE(is_ticket_id("alice"));
  EXPECT_FALSE(is_ticket_id("ccpt-0123456789ABCDEF0123456789abcdef"));
}

TEST(Ticket, JsonRoundTrip) {
  auto [t, c] = Make("docker.io/library/nginx", 60s);
  auto back = ticket_from_json(ticket_to_json(t));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->id, t.id);
  EXPECT_EQ(back->ns, "team-a");
  ASSERT_EQ(back->sources.size(), 2u);
  EXPECT_EQ(back->sources[0].username, "alice");
  EXPECT_FALSE(back->sources[0].digests);
  EXPECT_FALSE(ticket_from_json("{\"id\":1}").ok());
  EXPECT_EQ(ticket_to_json(t).find(c.password), std::string::npos);
}

TEST(Ticket, RedeemsOnceWithPrivateFile) {
  fs::path dir = TempDir("once");
  auto [t, c] = Make("docker.io/library/nginx", 60s);
  ASSERT_TRUE(write_ticket(dir, t).ok());
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir / (t.id + ".json")).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(check_ticket_dir(dir).ok());

  auto redeemed = redeem_ticket(dir, c, std::chrono::system_clock::now());
  ASSERT_TRUE(redeemed.ok()) << redeemed.error().message;
  EXPECT_EQ(redeemed->image, "docker.io/library/nginx");
  EXPECT_FALSE(fs::exists(dir / (t.id + ".json")));
  auto again = redeem_ticket(dir, c, std::chrono::system_clock::now());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already redeemed"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Ticket, RefusesWrongSecretExpiredAndNonTickets) {
  fs::path dir = TempDir("refuse");
  auto [t, c] = Make("docker.io/library/nginx", 60s);
  ASSERT_TRUE(write_ticket(dir, t).ok());
  TicketCredential wrong = c;
  wrong.password[0] = wrong.password[0] == 'a' ? 'b' : 'a';
  auto bad = redeem_ticket(dir, wrong, std::chrono::system_clock::now());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find(c.password), std::string::npos);
  // A wrong guess does not burn the ticket.
  EXPECT_TRUE(fs::exists(dir / (t.id + ".json")));

  auto late = redeem_ticket(dir, c, std::chrono::system_clock::now() + 61s);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message.find("expired"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / (t.id + ".json")));

  EXPECT_FALSE(
      redeem_ticket(dir, {"alice", "pw"}, std::chrono::system_clock::now())
          .ok());
  fs::remove_all(dir);
}

TEST(Ticket, RefusesSharedDirAndForeignFiles) {
  fs::path dir = TempDir("shared");
  auto [t, c] = Make("docker.io/library/nginx", 60s);
  ASSERT_TRUE(write_ticket(dir, t).ok());
  ::chmod(dir.c_str(), 0755);
  EXPECT_FALSE(check_ticket_dir(dir).ok());
  ::chmod(dir.c_str(), 0700);
  fs::path file = dir / (t.id + ".json");
  ::chmod(file.c_str(), 0644);
  EXPECT_FALSE(redeem_ticket(dir, c, std::chrono::system_clock::now()).ok());
  // A symlink in place of a ticket is not followed.
  fs::rename(file, dir / "elsewhere");
  fs::create_symlink(dir / "elsewhere", file);
  EXPECT_FALSE(redeem_ticket(dir, c, std::chrono::system_clock::now()).ok());
  fs::remove_all(dir);
}

TEST(Ticket, StaleTicketsAreRemoved) {
  fs::path dir = TempDir("stale");
  auto [t, c] = Make("docker.io/library/nginx", 60s);
  ASSERT_TRUE(write_ticket(dir, t).ok());
  std::ofstream(dir / "unrelated.json") << "{}";
  EXPECT_EQ(remove_stale_tickets(dir, 3600s), 0);
  EXPECT_EQ(remove_stale_tickets(dir, -1s), 1);
  EXPECT_TRUE(fs::exists(dir / "unrelated.json"));
  fs::remove_all(dir);
}
