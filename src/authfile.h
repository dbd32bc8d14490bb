// The namespaced auth files CRI-O consumes (namespaced_auth_dir): naming,
// content, atomic writes and clean-up.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

// "<namespace>-<sha256 hex of the normalized image name>.json", the name
// CRI-O looks for on PullImage.
std::string auth_file_name(std::string_view ns, std::string_view image_name);

// True for names of that shape (only those are ever removed by clean-up).
bool is_auth_file_name(std::string_view name);

struct AuthEntry {
  std::string key;  // "host[:port]/path/repo": the pull source's repository
  std::string username;
  std::string password;
};

// A containers-auth.json: the global auth file's content (every field kept;
// empty if `global_json` is empty) with our entries added to "auths",
// replacing equal keys.
Result<std::string> build_auth_file(std::string_view global_json,
                                    const std::vector<AuthEntry>& entries);

// What containers/image v5.40 finds in an auth file for repository `name`
// ("host[:port]/path"), as config.GetCredentialsForRef does with only that
// file (findCredentialsInFile): a credHelpers entry for the host wins; then
// the keys `name`, its parents, the host, exactly; then any key that
// normalizes to the host (a URL's host, docker.io as index.docker.io).
struct AuthFileMatch {
  std::string key;       // the auths key used; "" when none matches
  std::string username;  // "" when the entry has no "user:" (skipped)
  std::string helper;    // the credHelpers entry containers/image calls
};
// An error where containers/image fails the lookup (invalid JSON or base64).
Result<AuthFileMatch> lookup_auth_file(std::string_view content,
                                       std::string_view name);

// Reads the global auth file; a missing file is empty, not an error.
Result<std::string> read_global_auth_file(const std::string& path);

// An open directory that auth files are written in: every operation is
// relative to its descriptor, so a path swapped after the checks (a
// symlink planted in its place) cannot redirect a write or a removal.
class AuthDir {
 public:
  AuthDir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  AuthDir(AuthDir&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}
  AuthDir& operator=(AuthDir&&) = delete;
  AuthDir(const AuthDir&) = delete;
  ~AuthDir();
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// CRI-O's namespaced_auth_dir, created (mode 0700, parents too) if missing,
// opened with O_DIRECTORY|O_NOFOLLOW. Refused when it is a symlink, not a
// directory, not owned by root (or by the user we run as), or writable by
// its group or others: whoever may write there could plant or swap the
// credentials CRI-O hands to a registry.
Result<AuthDir> open_auth_dir(const std::string& path);

// Any existing directory, as found (`resolve --auth-file-out` writes where
// the operator says).
Result<AuthDir> open_output_dir(const std::string& path);

// Writes `content` to a temporary file in `dir` (mode 0600) and renames it
// to `name`: CRI-O sees the old file, the new file, or none, never a
// partial one. Nothing is fsynced: the file serves one pull and is written
// again after a reboot (authfile.cc says why). On failure the temporary file
// is gone and `name` is untouched.
Result<Ok> write_auth_file(const AuthDir& dir, const std::string& name,
                           std::string_view content);

// Removes `dir/name` if present; true if something was removed.
Result<bool> remove_auth_file(const AuthDir& dir, const std::string& name);

// Removes our files (and our leftover temporary files) in `dir` whose last
// write is older than `max_age`, except `keep` (the file this call wrote)
// and those whose image hash `pending` says a pull still waits for (asked
// only for files past `max_age`); never looks into sub-directories such as
// in-use/. Returns how many were removed.
int remove_stale_auth_files(
    const AuthDir& dir, std::chrono::nanoseconds max_age, std::string_view keep,
    const std::function<bool(std::string_view image_hash)>& pending);

// The image-name hash of an auth file name ("" for other names): the part
// CRI-O derives from the image, shared by every namespace.
std::string_view auth_file_image_hash(std::string_view name);
