#include "pullintent.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <string_view>

#include "file.h"
#include "json.h"
#include "reference.h"
#include "sha256.h"

namespace {

constexpr size_t kMaxEntries = 4096;
constexpr size_t kMaxIntentBytes = 64 << 10;

// The whole small file `name` in `dir_fd`, or "" when it is not a regular
// file we can read within the cap.
std::string ReadSmallFile(int dir_fd, const char* name) {
  int fd =
      ::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "";
  auto text = read_fd(fd, kMaxIntentBytes);
  ::close(fd);
  return text ? std::move(*text) : "";
}

}  // namespace

std::set<std::string> pending_pull_hashes(const std::string& kubelet_root_dir) {
  std::set<std::string> hashes;
  std::string dir = kubelet_root_dir + "/image_manager/pulling";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return hashes;
  size_t seen = 0;
  while (struct dirent* entry = ::readdir(d)) {
    if (!std::string_view(entry->d_name).starts_with("sha256-")) continue;
    if (++seen > kMaxEntries) break;
    std::string text = ReadSmallFile(::dirfd(d), entry->d_name);
    auto parsed = parse_json(text);
    if (!parsed || !parsed->is_object()) continue;
    const nlohmann::json& doc = *parsed;
    auto image = doc.find("image");
    if (image == doc.end() || !image->is_string()) continue;
    auto ref = parse_normalized_named(image->get<std::string>());
    if (!ref) continue;
    hashes.insert(sha256_hex(ref->name()));
  }
  ::closedir(d);
  return hashes;
}
