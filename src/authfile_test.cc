#include "authfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

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
  // The example of docs/contracts.md section 3.
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

AuthDir MustOpen(const fs::path& dir) {
  auto d = open_auth_dir(dir.string());
  EXPECT_TRUE(d.ok()) << d.error().message;
  return std::move(*d);
}

bool NonePending(std::string_view) { return false; }

TEST(AuthFile, WritesAtomicallyWithPrivateModes) {
  fs::path dir = TempDir("write") / "nested" / "auth";
  std::string name = auth_file_name("default", "docker.io/library/nginx");
  AuthDir d = MustOpen(dir);
  ASSERT_TRUE(write_auth_file(d, name, "{\"auths\":{}}\n").ok());
  struct stat st;
  ASSERT_EQ(::stat((dir / name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(write_auth_file(d, name, "second\n").ok());
  std::ifstream in(dir / name);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "second\n");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary left behind

  auto removed = remove_auth_file(d, name);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  removed = remove_auth_file(d, name);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  fs::remove_all(TempDir("write"));
}

TEST(AuthFile, RefusesAnUntrustworthyDir) {
  fs::path base = TempDir("hostile");
  fs::create_directories(base / "real");
  std::ofstream(base / "file") << "x";
  fs::create_directory_symlink(base / "real", base / "link");
  fs::create_directories(base / "open");
  fs::permissions(base / "open", fs::perms(0777));
  fs::create_directories(base / "group");
  fs::permissions(base / "group", fs::perms(0770));
  const std::pair<const char*, const char*> cases[] = {
      {"file", "not a directory"},
      {"link", "is a symlink"},
      {"open", "chmod 0700"},
      {"group", "writable by its group or others"},
  };
  for (const auto& [name, why] : cases) {
    auto d = open_auth_dir((base / name).string());
    ASSERT_FALSE(d.ok()) << name;
    EXPECT_NE(d.error().message.find(why), std::string::npos)
        << d.error().message;
  }
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown((base / "real").c_str(), 4242, 4242), 0);
    auto d = open_auth_dir((base / "real").string());
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("chown root:root"), std::string::npos)
        << d.error().message;
  }
  // resolve --auth-file-out writes where the operator says.
  EXPECT_TRUE(open_output_dir((base / "open").string()).ok());
  fs::remove_all(base);
}

TEST(AuthFile, ADirectoryInTheWayIsAClearError) {
  fs::path dir = TempDir("inway");
  AuthDir d = MustOpen(dir);
  std::string name = auth_file_name("a", "x.io/y");
  fs::create_directories(dir / name / "sub");
  auto w = write_auth_file(d, name, "{}");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("directory is in the way"),
            std::string::npos)
      << w.error().message;
  auto r = remove_auth_file(d, name);
  ASSERT_FALSE(r.ok());
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 0);  // the temporary file is gone
  fs::remove_all(dir);
}

TEST(AuthFile, RemovesOnlyOurStaleFiles) {
  fs::path dir = TempDir("stale");
  fs::create_directories(dir / "in-use");
  std::string old_ours = auth_file_name("a", "x.io/old");
  std::string new_ours = auth_file_name("a", "x.io/new");
  std::string queued = auth_file_name("b", "x.io/queued");
  std::string in_use = "in-use/" + auth_file_name("a", "x.io/busy");
  for (const std::string& f :
       {old_ours, new_ours, queued, in_use, std::string("config.json"),
        std::string(".ccp-tmp-leftover")})
    std::ofstream(dir / f) << "{}";
  Age(dir / old_ours, 600);
  Age(dir / queued, 600);
  Age(dir / in_use, 600);
  Age(dir / "config.json", 600);
  Age(dir / ".ccp-tmp-leftover", 600);
  AuthDir d = MustOpen(dir);
  std::string queued_hash(auth_file_image_hash(queued));
  std::vector<std::string> asked;
  EXPECT_EQ(remove_stale_auth_files(d, std::chrono::seconds(300), "",
                                    [&](std::string_view h) {
                                      asked.emplace_back(h);
                                      return h == queued_hash;
                                    }),
            2);
  EXPECT_FALSE(fs::exists(dir / old_ours));
  EXPECT_FALSE(fs::exists(dir / ".ccp-tmp-leftover"));
  EXPECT_TRUE(fs::exists(dir / queued));  // its pull is still queued
  EXPECT_TRUE(fs::exists(dir / new_ours));
  EXPECT_TRUE(fs::exists(dir / in_use));
  EXPECT_TRUE(fs::exists(dir / "config.json"));
  // Pull intents are looked at only for our files past the age.
  EXPECT_EQ(asked.size(), 2u);
  fs::remove_all(dir);
}

TEST(AuthFile, AShortStaleAfterKeepsTheFileJustWritten) {
  fs::path dir = TempDir("short");
  AuthDir d = MustOpen(dir);
  std::string mine = auth_file_name("a", "x.io/mine");
  std::string other = auth_file_name("a", "x.io/other");
  ASSERT_TRUE(write_auth_file(d, other, "{}").ok());
  ASSERT_TRUE(write_auth_file(d, mine, "{}").ok());
  ::usleep(20000);
  // Nanosecond ages: 20 ms is not 500 ms.
  EXPECT_EQ(remove_stale_auth_files(d, std::chrono::milliseconds(500), mine,
                                    NonePending),
            0);
  EXPECT_EQ(remove_stale_auth_files(d, std::chrono::milliseconds(10), mine,
                                    NonePending),
            1);
  EXPECT_TRUE(fs::exists(dir / mine));
  EXPECT_FALSE(fs::exists(dir / other));
  EXPECT_EQ(remove_stale_auth_files(d, std::chrono::nanoseconds(0), mine,
                                    NonePending),
            0);
  EXPECT_TRUE(fs::exists(dir / mine));
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

// containers/image's findCredentialsInFile over the file CRI-O gets.
TEST(AuthFile, LookupAsContainersImageDoes) {
  const std::string file = R"({"auths":{
    "mirror.io/cache/ns": {"auth": "ZGVlcDpw"},
    "mirror.io": {"auth": "aG9zdDpw"},
    "https://legacy.io/v1/": {"auth": "bGVnYWN5OnA="},
    "https://index.docker.io/v1/": {"AUTH": "aHViOnA="},
    "nocolon.io/x": {"auth": "bm9jb2xvbg=="},
    "bad.io": {"auth": "!!"}},
    "credHelpers": {"helped.io": "ecr-login"}})";
  auto find = [&](std::string_view name) {
    auto found = lookup_auth_file(file, name);
    EXPECT_TRUE(found.ok()) << name;
    return found ? found->key + "=" + found->username + found->helper : "";
  };
  EXPECT_EQ(find("mirror.io/cache/ns/repo"), "mirror.io/cache/ns=deep");
  EXPECT_EQ(find("mirror.io/cache/other"), "mirror.io=host");
  EXPECT_EQ(find("legacy.io/x"), "https://legacy.io/v1/=legacy");
  EXPECT_EQ(find("docker.io/library/nginx"), "https://index.docker.io/v1/=hub");
  // An entry without "user:" ends the walk with nothing.
  EXPECT_EQ(find("nocolon.io/x/y"), "nocolon.io/x=");
  EXPECT_EQ(find("helped.io/x"), "=ecr-login");
  EXPECT_EQ(find("other.io/x"), "=");
  EXPECT_FALSE(lookup_auth_file(file, "bad.io/x").ok());
  EXPECT_EQ(lookup_auth_file("", "a.io/x")->key, "");
}
