// The namespaced auth files CRI-O consumes (namespaced_auth_dir): naming,
// content, atomic writes and clean-up.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
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

// Reads the global auth file; a missing file is empty, not an error.
Result<std::string> read_global_auth_file(const std::string& path);

// Creates `dir` (mode 0700) if missing, writes `content` to a temporary file
// in it (mode 0600), fsyncs, renames it to `name` and fsyncs the directory:
// CRI-O sees the old file, the new file, or none, never a partial one.
Result<Ok> write_auth_file(const std::string& dir, const std::string& name,
                           std::string_view content);

// Removes `dir/name` if present; true if something was removed.
Result<bool> remove_auth_file(const std::string& dir, const std::string& name);

// Removes our files (and our leftover temporary files) in `dir` older than
// `max_age`; never looks into sub-directories such as in-use/. Returns how
// many were removed.
int remove_stale_auth_files(const std::string& dir,
                            std::chrono::seconds max_age);
