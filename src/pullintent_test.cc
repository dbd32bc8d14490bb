#include "pullintent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sha256.h"

namespace fs = std::filesystem;

TEST(PullIntent, HashesTheNormalizedNameOfEachIntent) {
  fs::path root =
      fs::temp_directory_path() / ("ccp-intents-" + std::to_string(::getpid()));
  fs::remove_all(root);
  EXPECT_TRUE(pending_pull_hashes(root.string()).empty());  // feature off

  fs::path dir = root / "image_manager" / "pulling";
  fs::create_directories(dir);
  // As kubelet writes them (pullmanager/fs_pullrecords.go).
  std::ofstream(dir / "sha256-1")
      << R"({"kind":"ImagePullIntent","apiVersion":"kubelet.config.k8s.io/v1beta1","image":"team/app:1"})";
  std::ofstream(dir / "sha256-2")
      << R"({"kind":"ImagePullIntent","apiVersion":"kubelet.config.k8s.io/v1alpha1","image":"quay.io/x/y@sha256:f24acc752be18b93b0504c86312bbaf482c9efb0c45e925bbccb0a591cebd7af"})";
  std::ofstream(dir / "sha256-3") << "not json";
  std::ofstream(dir / "sha256-4") << R"({"image":"Not A Reference"})";
  std::ofstream(dir / "other") << R"({"image":"ignored/by-name:1"})";
  fs::create_directories(dir / "sha256-5");

  auto hashes = pending_pull_hashes(root.string());
  EXPECT_EQ(hashes, (std::set<std::string>{sha256_hex("docker.io/team/app"),
                                           sha256_hex("quay.io/x/y")}));
  fs::remove_all(root);
}
