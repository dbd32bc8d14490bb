#include "crio_config.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
// The same toml++ configuration as registries_parse.cc: the library is
// header-only and every translation unit must instantiate it alike.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_UNRELEASED_FEATURES 1
#include <toml++/toml.h>

#include <vector>

#include "file.h"
#include "toml_guard.h"

namespace {

// crio.conf and its drop-ins are a few KiB.
constexpr std::size_t kMaxCrioConfigBytes = 1 << 20;

// Applies one file's setting to `dir`; a missing file sets nothing.
Result<Ok> ApplyFile(const std::string& path, std::string& dir) {
  auto text = read_file(path, kMaxCrioConfigBytes);
  if (!text) {
    if (text.error().err == ENOENT) return Ok{};
    return Error{"cannot read CRI-O configuration " + path + ": " +
                 text.error().message};
  }
  // toml++ 3.3.0 has undefined behaviour on some input that Go's TOML
  // reader (CRI-O's) refuses; the guard keeps it away, as for registries.conf.
  auto guarded = guard_toml_input(*text);
  if (!guarded)
    return Error{"CRI-O configuration " + path + " is not valid TOML (" +
                 guarded.error().message + "): fix it, CRI-O refuses it too"};
  toml::parse_result parsed = toml::parse(*guarded, path);
  if (!parsed)
    return Error{"CRI-O configuration " + path + " is not valid TOML (" +
                 std::string(parsed.error().description()) +
                 "): fix it, CRI-O refuses it too"};
  if (auto value = parsed.table()["crio"]["image"]["namespaced_auth_dir"]
                       .value<std::string>())
    dir = *value;
  return Ok{};
}

}  // namespace

Result<std::string> crio_namespaced_auth_dir(const std::string& main_file,
                                             const std::string& dropin_dir) {
  std::string dir(kCrioDefaultAuthDir);
  if (auto r = ApplyFile(main_file, dir); !r) return r.error();
  std::vector<std::string> dropins;
  if (DIR* d = ::opendir(dropin_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.ends_with(".conf")) dropins.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(dropins.begin(), dropins.end());
  for (const std::string& name : dropins)
    if (auto r = ApplyFile(dropin_dir + "/" + name, dir); !r) return r.error();
  return dir;
}

std::optional<std::array<int, 3>> parse_version(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) continue;
    if (i > 0 && (std::isdigit(static_cast<unsigned char>(text[i - 1])) ||
                  text[i - 1] == '.'))
      continue;
    std::array<int, 3> v{};
    size_t at = i;
    bool ok = true;
    for (int part = 0; part < 3 && ok; ++part) {
      if (part > 0) {
        ok = at < text.size() && text[at] == '.';
        ++at;
      }
      size_t start = at;
      int n = 0;
      while (at < text.size() &&
             std::isdigit(static_cast<unsigned char>(text[at])) &&
             at - start < 6)
        n = n * 10 + (text[at++] - '0');
      ok = ok && at > start;
      v[part] = n;
    }
    if (ok) return v;
  }
  return std::nullopt;
}
