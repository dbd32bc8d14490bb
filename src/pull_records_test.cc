#include "pull_records.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

TEST(PullRecords, FindsMirroredImagesOpenToEveryPod) {
  auto root = std::filesystem::temp_directory_path() /
              ("ccp-kubelet-" + std::to_string(::getpid()));
  auto pulled = root / "image_manager" / "pulled";
  std::filesystem::create_directories(pulled);
  std::ofstream(pulled / "sha256-a")
      << R"({"imageRef":"a","credentialMapping":{"nginx":{"nodePodsAccessible":true},"quay.io/x":{"nodePodsAccessible":true}}})";
  std::ofstream(pulled / "sha256-b")
      << R"({"imageRef":"b","credentialMapping":{"docker.io/team/app":{"kubernetesServiceAccounts":[{"namespace":"a","name":"default"}]}}})";
  std::ofstream(pulled / "sha256-c") << "not json";
  auto conf = parse_registries(
      "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\n"
      "location = \"m.corp\"\n",
      "test");
  ASSERT_TRUE(conf.ok());
  auto found = shared_mirrored_pull_records(root.string(), *conf);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].image, "nginx");
  EXPECT_EQ(found[0].file, (pulled / "sha256-a").string());
  EXPECT_TRUE(shared_mirrored_pull_records("/nonexistent", *conf).empty());
  std::filesystem::remove_all(root);
}
