#include "crio_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

TEST(CrioConfig, DropInsOverrideTheMainFileInNameOrder) {
  auto dir = std::filesystem::temp_directory_path() /
             ("ccp-crio-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "d");
  auto write = [](const std::filesystem::path& p, const char* text) {
    std::ofstream(p) << text;
  };
  auto main_file = (dir / "crio.conf").string();
  auto dropins = (dir / "d").string();
  EXPECT_EQ(*crio_namespaced_auth_dir(main_file, dropins), "/etc/crio/auth");
  write(dir / "crio.conf", "[crio.image]\nnamespaced_auth_dir = \"/main\"\n");
  EXPECT_EQ(*crio_namespaced_auth_dir(main_file, dropins), "/main");
  write(dir / "d" / "20-b.conf",
        "[crio.image]\nnamespaced_auth_dir = \"/b\"\n");
  write(dir / "d" / "10-a.conf",
        "[crio.image]\nnamespaced_auth_dir = \"/a\"\n");
  write(dir / "d" / "30-c.conf", "[crio.runtime]\nlog_level = \"info\"\n");
  write(dir / "d" / "99-z.txt", "[crio.image]\nnamespaced_auth_dir = \"/z\"\n");
  EXPECT_EQ(*crio_namespaced_auth_dir(main_file, dropins), "/b");
  write(dir / "d" / "40-bad.conf", "[crio.image\n");
  auto bad = crio_namespaced_auth_dir(main_file, dropins);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("40-bad.conf"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// crio.conf goes through the same guard as registries.conf: toml++ 3.3.0
// has undefined behaviour on a character U+00A1-U+0499 right after a key.
TEST(CrioConfig, GuardsTomlBeforeParsing) {
  auto dir = std::filesystem::temp_directory_path() /
             ("ccp-crio-guard-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "d");
  auto main_file = (dir / "crio.conf").string();
  std::ofstream(main_file) << "[crio.image]\nnamespaced_auth_dir\xC2\xA1 = 1\n";
  auto bad = crio_namespaced_auth_dir(main_file, (dir / "d").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2: non-ASCII"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("crio.conf"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(CrioConfig, ParseVersion) {
  using V = std::array<int, 3>;
  EXPECT_EQ(parse_version("crio version 1.34.3\nGitCommit: abc"),
            (V{1, 34, 3}));
  EXPECT_EQ(parse_version("Kubernetes v1.36.3"), (V{1, 36, 3}));
  EXPECT_EQ(parse_version("no version"), std::nullopt);
  EXPECT_EQ(parse_version("1.2"), std::nullopt);
  EXPECT_LT(*parse_version("crio version 1.34.2"), kCrioFirstNamespacedAuth);
}
