#include "authfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "base64.h"
#include "json.h"
#include "sha256.h"

namespace {

using nlohmann::json;

constexpr std::string_view kTempPrefix = ".ccp-tmp-";
constexpr size_t kMaxGlobalAuthFileBytes = 4 << 20;

std::string ErrnoText() { return std::strerror(errno); }

// A file descriptor closed on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<Ok> EnsureDir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return Error{"auth dir \"" + dir +
                   "\" is not a directory: fix --auth-dir"};
    return Ok{};
  }
  // Create missing parents too; each new directory is private.
  for (size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
    std::string part = dir.substr(0, at);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Error{"cannot create auth dir \"" + part + "\": " + ErrnoText() +
                   ": create it (mode 0700) or fix --auth-dir"};
    if (at == std::string::npos) break;
  }
  return Ok{};
}

}  // namespace

std::string auth_file_name(std::string_view ns, std::string_view image_name) {
  return std::string(ns) + "-" + sha256_hex(image_name) + ".json";
}

bool is_auth_file_name(std::string_view name) {
  constexpr size_t kSuffix = 1 + 64 + 5;  // "-" hex ".json"
  if (name.size() <= kSuffix || !name.ends_with(".json")) return false;
  std::string_view hex = name.substr(name.size() - kSuffix + 1, 64);
  if (name[name.size() - kSuffix] != '-') return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::string> build_auth_file(std::string_view global_json,
                                    const std::vector<AuthEntry>& entries) {
  json doc = json::object();
  if (!global_json.empty()) {
    auto parsed = parse_json(global_json);
    if (!parsed)
      return Error{"the global auth file is " + parsed.error().message +
                   ": fix --global-auth-file"};
    if (!parsed->is_object())
      return Error{"the global auth file is not a JSON object"};
    doc = std::move(*parsed);
  }
  json& auths = doc["auths"];
  if (auths.is_null()) auths = json::object();
  if (!auths.is_object())
    return Error{"the global auth file's \"auths\" is not an object"};
  for (const AuthEntry& e : entries)
    auths[e.key] = {{"auth", base64_encode(e.username + ":" + e.password)}};
  return doc.dump() + "\n";
}

Result<std::string> read_global_auth_file(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return std::string();
    return Error{"cannot read the global auth file \"" + path + "\": " +
                 ErrnoText() + ": fix its permissions or --global-auth-file"};
  }
  std::string content;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Error{"cannot read the global auth file \"" + path +
                   "\": " + ErrnoText()};
    if (n == 0) break;
    content.append(buf, n);
    if (content.size() > kMaxGlobalAuthFileBytes)
      return Error{"the global auth file \"" + path +
                   "\" is larger than 4 MiB: fix --global-auth-file"};
  }
  return content;
}

Result<Ok> write_auth_file(const std::string& dir, const std::string& name,
                           std::string_view content) {
  if (auto made = EnsureDir(dir); !made) return made.error();
  std::string temp = dir + "/" + std::string(kTempPrefix) + name + ".XXXXXX";
  Fd f{::mkostemp(temp.data(), O_CLOEXEC)};
  if (f.fd < 0)
    return Error{"cannot create a file in auth dir \"" + dir +
                 "\": " + ErrnoText() +
                 ": make it writable for the user kubelet runs as"};
  auto fail = [&](const std::string& what) -> Result<Ok> {
    std::string why = ErrnoText();
    ::unlink(temp.c_str());
    return Error{"cannot " + what + " auth file in \"" + dir + "\": " + why +
                 ": free space or fix the auth dir's file system"};
  };
  if (::fchmod(f.fd, 0600) != 0) return fail("set the mode of the");
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(f.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return fail("write the");
    }
    done += n;
  }
  if (::fsync(f.fd) != 0) return fail("flush the");
  if (::close(f.fd) != 0) {
    f.fd = -1;
    return fail("close the");
  }
  f.fd = -1;
  std::string final_path = dir + "/" + name;
  if (::rename(temp.c_str(), final_path.c_str()) != 0)
    return fail("rename the");
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);
  return Ok{};
}

Result<bool> remove_auth_file(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return Error{"cannot remove the stale auth file \"" + path +
               "\": " + ErrnoText() + ": make the auth dir writable"};
}

int remove_stale_auth_files(const std::string& dir,
                            std::chrono::seconds max_age) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  time_t cutoff = ::time(nullptr) - max_age.count();
  int dfd = ::dirfd(d);
  while (struct dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (!is_auth_file_name(name) && !name.starts_with(kTempPrefix)) continue;
    struct stat st;
    if (::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_mtime > cutoff) continue;
    if (::unlinkat(dfd, entry->d_name, 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}
