#include "authfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "base64.h"
#include "file.h"
#include "json.h"
#include "sha256.h"
#include "text.h"

namespace {

using nlohmann::json;

constexpr std::string_view kTempPrefix = ".ccp-tmp-";
constexpr size_t kMaxGlobalAuthFileBytes = 4 << 20;

std::string ErrnoText() { return std::strerror(errno); }

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// A file descriptor closed on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Creates `dir` and its missing parents, each new one private (0700).
Result<Ok> MakeDirs(const std::string& dir) {
  for (size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
    std::string part = dir.substr(0, at);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Error{"cannot create auth dir \"" + part + "\": " + ErrnoText() +
                   ": create it (root-owned, mode 0700) or fix --auth-dir"};
    if (at == std::string::npos) break;
  }
  return Ok{};
}

Result<AuthDir> OpenDir(const std::string& path, bool private_dir) {
  if (private_dir && ::mkdir(path.c_str(), 0700) != 0 && errno == ENOENT) {
    if (auto made = MakeDirs(path); !made) return made.error();
  }
  int fd =
      ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    struct stat st;
    if ((err == ELOOP || err == ENOTDIR) && ::lstat(path.c_str(), &st) == 0 &&
        S_ISLNK(st.st_mode))
      return Error{"auth dir \"" + path +
                   "\" is a symlink: point --auth-dir at the real directory"};
    if (err == ENOTDIR)
      return Error{"auth dir \"" + path +
                   "\" is not a directory: remove what is in the way or fix "
                   "--auth-dir"};
    return Error{"cannot open auth dir \"" + path +
                 "\": " + std::strerror(err) +
                 ": create it (root-owned, mode 0700) or fix --auth-dir"};
  }
  AuthDir dir(fd, path);
  if (!private_dir) return dir;
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return Error{"cannot inspect auth dir \"" + path + "\": " + ErrnoText()};
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return Error{"auth dir \"" + path + "\" is owned by uid " +
                 std::to_string(st.st_uid) +
                 ", not root: chown root:root it (only root may hold the "
                 "credentials CRI-O uses)"};
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Error{"auth dir \"" + path + "\" is writable by its group or " +
                 "others (mode " + ModeText(st.st_mode) +
                 "): chmod 0700 it, or anyone could plant credentials"};
  return dir;
}

// "tmp" + 16 random hex digits: unguessable, so nobody can pre-create it.
std::string TempName(const std::string& name) {
  unsigned char bytes[8] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    auto t = ::time(nullptr) ^ ::getpid();
    std::memcpy(bytes, &t, std::min(sizeof t, sizeof bytes));
  }
  static const char kHex[] = "0123456789abcdef";
  std::string suffix;
  for (unsigned char b : bytes) {
    suffix += kHex[b >> 4];
    suffix += kHex[b & 15];
  }
  return std::string(kTempPrefix) + name + "." + suffix;
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
  auto content = read_fd(f.fd, kMaxGlobalAuthFileBytes);
  if (!content) {
    if (content.error().err == 0)
      return Error{"the global auth file \"" + path +
                   "\" is larger than 4 MiB: fix --global-auth-file"};
    return Error{"cannot read the global auth file \"" + path +
                 "\": " + content.error().message};
  }
  return std::move(*content);
}

AuthDir::~AuthDir() {
  if (fd_ >= 0) ::close(fd_);
}

Result<AuthDir> open_auth_dir(const std::string& path) {
  return OpenDir(path, true);
}

Result<AuthDir> open_output_dir(const std::string& path) {
  return OpenDir(path, false);
}

Result<Ok> write_auth_file(const AuthDir& dir, const std::string& name,
                           std::string_view content) {
  std::string temp;
  Fd f;
  for (int attempt = 0; attempt < 8 && f.fd < 0; ++attempt) {
    temp = TempName(name);
    f.fd = ::openat(dir.fd(), temp.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f.fd < 0 && errno != EEXIST) break;
  }
  if (f.fd < 0)
    return Error{"cannot create a file in auth dir \"" + dir.path() +
                 "\": " + ErrnoText() +
                 ": make it writable for the user kubelet runs as"};
  auto fail = [&](const std::string& what) -> Result<Ok> {
    std::string why = ErrnoText();
    ::unlinkat(dir.fd(), temp.c_str(), 0);
    return Error{"cannot " + what + " auth file in \"" + dir.path() + "\": " +
                 why + ": free space or fix the auth dir's file system"};
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
  // No fsync of the file or the directory. The rename alone makes the
  // complete file appear at once to CRI-O (and to every other reader while
  // the system runs); fsync adds only survival of a power loss, which this
  // file does not need: it serves one pull, CRI-O claims and deletes it, and
  // after a reboot kubelet (whose credential cache is in memory) asks us again
  // before that pull, so we write it anew. What a power loss can leave (no
  // file, the previous one, or an empty one where the data had not reached
  // the disk) is replaced then; an empty file CRI-O finds on its own fails
  // that one pull, and CRI-O deletes it. On a busy disk the two flushes were
  // most of a call's wall time. A tmpfs auth dir (README) keeps the
  // credentials off the disk altogether.
  if (::close(std::exchange(f.fd, -1)) != 0) return fail("close the");
  if (::renameat(dir.fd(), temp.c_str(), dir.fd(), name.c_str()) != 0) {
    if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
      ::unlinkat(dir.fd(), temp.c_str(), 0);
      return Error{"a directory is in the way of the auth file \"" +
                   dir.path() + "/" + name +
                   "\": remove it (only CRI-O's in-use/ belongs there)"};
    }
    return fail("rename the");
  }
  return Ok{};
}

Result<bool> remove_auth_file(const AuthDir& dir, const std::string& name) {
  if (::unlinkat(dir.fd(), name.c_str(), 0) == 0) return true;
  if (errno == ENOENT) return false;
  std::string path = dir.path() + "/" + name;
  if (errno == EISDIR)
    return Error{"a directory is in the way of the auth file \"" + path +
                 "\": remove it (only CRI-O's in-use/ belongs there)"};
  return Error{"cannot remove the previous auth file \"" + path +
               "\": " + ErrnoText() + ": make the auth dir writable"};
}

std::string_view auth_file_image_hash(std::string_view name) {
  if (!is_auth_file_name(name)) return {};
  return name.substr(name.size() - 5 - 64, 64);
}

int remove_stale_auth_files(
    const AuthDir& dir, std::chrono::nanoseconds max_age, std::string_view keep,
    const std::function<bool(std::string_view image_hash)>& pending) {
  // A descriptor of our own: closedir closes it, not dir's.
  int fd = ::openat(dir.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return 0;
  }
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  auto now_ns =
      std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
  int removed = 0;
  while (struct dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    bool temp = name.starts_with(kTempPrefix);
    if (name == keep || (!is_auth_file_name(name) && !temp)) continue;
    struct stat st;
    if (::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    auto mtime = std::chrono::seconds(st.st_mtim.tv_sec) +
                 std::chrono::nanoseconds(st.st_mtim.tv_nsec);
    if (!S_ISREG(st.st_mode) || now_ns - mtime <= max_age) continue;
    // A pull kubelet has queued still needs its file, however long it waits.
    if (!temp && pending(auth_file_image_hash(name))) continue;
    if (::unlinkat(fd, entry->d_name, 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

namespace {

// A member of a JSON object as Go's encoding/json matches a struct field:
// the exact name, else one equal under Unicode case folding.
const nlohmann::json* GoField(const nlohmann::json& object,
                              std::string_view field) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(field); it != object.end()) return &*it;
  for (auto it = object.begin(); it != object.end(); ++it)
    if (equals_ignore_case(it.key(), field)) return &*it;
  return nullptr;
}

// normalizeRegistry and normalizeAuthFileKey (config.go:906-925).
std::string_view NormalizeRegistry(std::string_view registry) {
  if (registry == "registry-1.docker.io" || registry == "docker.io")
    return "index.docker.io";
  return registry;
}

std::string_view NormalizeAuthFileKey(std::string_view key) {
  std::string_view stripped = key;
  if (stripped.starts_with("http://"))
    stripped.remove_prefix(7);
  else if (stripped.starts_with("https://"))
    stripped.remove_prefix(8);
  if (stripped.size() != key.size())
    stripped = stripped.substr(0, stripped.find('/'));
  return NormalizeRegistry(stripped);
}

// decodeDockerAuth (config.go:879-903): StdEncoding (padded, '\r' and '\n'
// skipped), then "user:password"; without a ':' the entry is skipped.
Result<AuthFileMatch> DecodeAuthFileEntry(const std::string& key,
                                          const nlohmann::json& entry) {
  AuthFileMatch match{key, "", ""};
  const nlohmann::json* auth = GoField(entry, "auth");
  if (!entry.is_object() && !entry.is_null())
    return Error{"auth file entry \"" + key + "\" is not an object"};
  if (auth && !auth->is_string() && !auth->is_null())
    return Error{"\"auth\" of \"" + key + "\" is not a string"};
  std::string text;
  if (auth && auth->is_string())
    for (char c : auth->get_ref<const std::string&>())
      if (c != '\r' && c != '\n') text += c;
  std::optional<std::string> decoded;
  if (text.size() % 4 == 0) decoded = base64_decode(text);
  if (!decoded) return Error{"\"auth\" of \"" + key + "\" is not valid base64"};
  size_t colon = decoded->find(':');
  if (colon != std::string::npos) match.username = decoded->substr(0, colon);
  return match;
}

}  // namespace

Result<AuthFileMatch> lookup_auth_file(std::string_view content,
                                       std::string_view name) {
  if (content.empty()) return AuthFileMatch{};  // no file: nothing found
  auto doc = parse_json(content);
  if (!doc) return doc.error();
  if (!doc->is_object() && !doc->is_null())
    return Error{"the auth file is not a JSON object"};
  std::string_view registry = name.substr(0, name.find('/'));
  if (const nlohmann::json* helpers = GoField(*doc, "credHelpers");
      helpers && helpers->is_object())
    if (auto it = helpers->find(registry);
        it != helpers->end() && it->is_string())
      return AuthFileMatch{"", "", it->get<std::string>()};
  const nlohmann::json* auths = GoField(*doc, "auths");
  if (!auths || !auths->is_object()) return AuthFileMatch{};
  for (std::string_view key = name;;) {
    if (auto it = auths->find(key); it != auths->end())
      return DecodeAuthFileEntry(std::string(key), *it);
    size_t slash = key.rfind('/');
    if (slash == std::string_view::npos) break;
    key = key.substr(0, slash);
  }
  // Go walks a map here, in random order; where several keys normalize to
  // the host we take the first in key order.
  std::string_view host = NormalizeRegistry(registry);
  for (auto it = auths->begin(); it != auths->end(); ++it)
    if (NormalizeAuthFileKey(it.key()) == host)
      return DecodeAuthFileEntry(it.key(), *it);
  return AuthFileMatch{};
}
