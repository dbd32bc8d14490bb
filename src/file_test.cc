#include "file.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace {

std::string WriteTemp(const std::string& data) {
  char tmpl[] = "/tmp/file_test.XXXXXX";
  int fd = ::mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  std::ofstream(tmpl, std::ios::binary) << data;
  return tmpl;
}

TEST(ReadFile, WholeFileWithinTheCap) {
  std::string path = WriteTemp("abc");
  auto data = read_file(path, 3);
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(*data, "abc");
  std::filesystem::remove(path);
}

TEST(ReadFile, OverTheCapIsAnErrorNotATruncation) {
  std::string path = WriteTemp(std::string(70000, 'x'));
  auto data = read_file(path, 64 * 1024);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().err, 0);
  EXPECT_EQ(data.error().message, "larger than 64 KiB");
  std::filesystem::remove(path);
}

TEST(ReadFile, MissingFileKeepsErrno) {
  auto data = read_file("/nonexistent/file", 10);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().err, ENOENT);
  EXPECT_EQ(data.error().message, "No such file or directory");
}

TEST(FormatSize, Table) {
  EXPECT_EQ(format_size(16u << 20), "16 MiB");
  EXPECT_EQ(format_size(64u << 10), "64 KiB");
  EXPECT_EQ(format_size(1500), "1500 bytes");
}

}  // namespace
