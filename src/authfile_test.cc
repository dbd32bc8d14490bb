#include "authfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

fs::path TempDir(const std::string& tag) {
  fs::path dir = fs::temp_directory_path() /
                 ("ccp-auth-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

void Age(const fs::path& p, int seconds) {
  struct utimbuf t;
  t.actime = t.modtime = ::time(nullptr) - seconds;
  ::utime(p.c_str(), &t);
}

}  // namespace

TEST(AuthFile, NameMatchesCrio) {
  // The example of CONTRACTS.md section 2.
  EXPECT_EQ(
      auth_file_name("default", "docker.io/library/nginx"),
      "default-"
      "7e59ad64326bc321517fb6fc6586de5ee149178394d9edfa2a877176cdf6fad5.json");
  EXPECT_TRUE(is_auth_file_name(auth_file_name("team-a", "x.io/y")));
  EXPECT_FALSE(is_auth_file_name("team-a-short.json"));
  EXPECT_FALSE(is_auth_file_name("config.json"));
}

TEST(AuthFile, MergesOverTheGlobalFile) {
  auto content = build_auth_file(
      R"({"auths":{"m.io/team/app":{"auth":"b2xkOm9sZA=="},"other.io":{"auth":"eDp5"}},"credHelpers":{"gcr.io":"gcloud"}})",
      {{"m.io/team/app", "user", "pa:ss"}});
  ASSERT_TRUE(content.ok());
  auto doc = nlohmann::json::parse(*content);
  EXPECT_EQ(doc["auths"]["m.io/team/app"]["auth"],
            "dXNlcjpwYTpzcw==");                        // ours wins
  EXPECT_EQ(doc["auths"]["other.io"]["auth"], "eDp5");  // theirs kept
  EXPECT_EQ(doc["credHelpers"]["gcr.io"], "gcloud");    // other fields kept
  auto alone = build_auth_file("", {{"m.io/a", "u", "p"}});
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(nlohmann::json::parse(*alone)["auths"].size(), 1u);
  EXPECT_FALSE(build_auth_file("[1]", {}).ok());
  EXPECT_FALSE(build_auth_file(R"({"auths":[]})", {}).ok());
}

TEST(AuthFile, WritesAtomicallyWithPrivateModes) {
  fs::path dir = TempDir("write") / "nested" / "auth";
  std::string name = auth_file_name("default", "docker.io/library/nginx");
  ASSERT_TRUE(write_auth_file(dir.string(), name, "{\"auths\":{}}\n").ok());
  struct stat st;
  ASSERT_EQ(::stat((dir / name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(write_auth_file(dir.string(), name, "second\n").ok());
  std::ifstream in(dir / name);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "second\n");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary left behind

  auto removed = remove_auth_file(dir.string(), name);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  removed = remove_auth_file(dir.string(), name);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  fs::remove_all(TempDir("write"));
}

TEST(AuthFile, ReportsUnwritableDir) {
  if (::geteuid() == 0) {
    // root ignores modes; a file in the way of the directory still fails.
    fs::path base = TempDir("blocked");
    fs::create_directories(base);
    std::ofstream(base / "auth") << "x";
    auto r = write_auth_file((base / "auth").string(), "a.json", "{}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("--auth-dir"), std::string::npos)
        << r.error().message;
    fs::remove_all(base);
    return;
  }
  auto r = write_auth_file("/proc/ccp-cannot-exist", "a.json", "{}");
  ASSERT_FALSE(r.ok());
}

TEST(AuthFile, RemovesOnlyOurStaleFiles) {
  fs::path dir = TempDir("stale");
  fs::create_directories(dir / "in-use");
  std::string old_ours = auth_file_name("a", "x.io/old");
  std::string new_ours = auth_file_name("a", "x.io/new");
  std::string in_use = "in-use/" + auth_file_name("a", "x.io/busy");
  for (const std::string& f :
       {old_ours, new_ours, in_use, std::string("config.json"),
        std::string(".ccp-tmp-leftover")})
    std::ofstream(dir / f) << "{}";
  Age(dir / old_ours, 600);
  Age(dir / in_use, 600);
  Age(dir / "config.json", 600);
  Age(dir / ".ccp-tmp-leftover", 600);
  EXPECT_EQ(remove_stale_auth_files(dir.string(), std::chrono::seconds(300)),
            2);
  EXPECT_FALSE(fs::exists(dir / old_ours));
  EXPECT_FALSE(fs::exists(dir / ".ccp-tmp-leftover"));
  EXPECT_TRUE(fs::exists(dir / new_ours));
  EXPECT_TRUE(fs::exists(dir / in_use));
  EXPECT_TRUE(fs::exists(dir / "config.json"));
  fs::remove_all(dir);
}

TEST(AuthFile, GlobalFileMissingIsEmpty) {
  auto r = read_global_auth_file("/nonexistent/config.json");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(AuthFile, RefusesADeepGlobalFileInsteadOfCrashing) {
  // 100,000 nested arrays (200 KB) overflowed the stack in dump().
  std::string deep =
      "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto content = build_auth_file(deep, {{"m.io/a", "u", "p"}});
  ASSERT_FALSE(content.ok());
  EXPECT_EQ(content.error().message,
            "the global auth file is nested deeper than 10000 levels: fix "
            "--global-auth-file");
}
