// Which registries.conf files are read, in which order, and how they merge
// (configfile.Read, updateWithConfigurationFrom).
#include <cerrno>
#include <filesystem>
#include <map>

#include "file.h"
#include "registries.h"

namespace {

namespace fs = std::filesystem;

// Operator files; generous for configurations of 100,000 registries.
constexpr std::size_t kMaxRegistriesFileBytes = 64u << 20;

// Later files replace registries with the same prefix
// (updateWithConfigurationFrom). Both lists are sorted by prefix and
// unique, so one linear merge keeps them so.
void Merge(RegistriesConf& into, RegistriesConf&& update) {
  std::vector<Registry> merged;
  merged.reserve(into.registries.size() + update.registries.size());
  auto a = into.registries.begin(), a_end = into.registries.end();
  auto b = update.registries.begin(), b_end = update.registries.end();
  while (a != a_end || b != b_end) {
    if (b == b_end || (a != a_end && a->prefix < b->prefix)) {
      merged.push_back(std::move(*a++));
    } else {
      if (a != a_end && a->prefix == b->prefix) ++a;  // replaced
      merged.push_back(std::move(*b++));
    }
  }
  into.registries = std::move(merged);
  into.files.insert(into.files.end(), update.files.begin(), update.files.end());
  if (update.has_search_registries) {
    into.has_search_registries = true;
    into.unqualified_search_registries =
        std::move(update.unqualified_search_registries);
    into.search_registries_origin = std::move(update.search_registries_origin);
  }
  if (!update.short_name_mode.empty())
    into.short_name_mode = std::move(update.short_name_mode);
  if (update.has_credential_helpers) {
    into.has_credential_helpers = true;
    into.credential_helpers = std::move(update.credential_helpers);
  }
}

}  // namespace

RegistriesPaths default_registries_paths(const std::string& explicit_main,
                                         const char* env_main,
                                         const std::string& dropin_dir) {
  RegistriesPaths paths;
  if (!explicit_main.empty()) {
    paths.main_files = {explicit_main};
    paths.main_must_exist = true;
  } else if (env_main && *env_main) {
    paths.main_files = {env_main};
    paths.main_must_exist = true;
    return paths;  // the variable turns drop-ins off
  } else {
    paths.main_files = {"/etc/containers/registries.conf",
                        "/usr/share/containers/registries.conf"};
  }
  if (!dropin_dir.empty()) paths.dropin_dirs = {dropin_dir};
  return paths;
}

// Files are opened as go.podman.io/storage's configfile.Read opens them
// (parse.go in v1.63.0): the first main file that opens, skipping a missing
// one unless it was named explicitly (lines 276-283); drop-ins listed by
// os.ReadDir, whose entries count as directories only when they are one
// themselves, not a symlink to one (line 387); a drop-in that no longer
// opens with "not found", e.g. a dangling symlink, is skipped (lines
// 303-308); every other failure, a directory read as a file included, is an
// error.
Result<RegistriesConf> load_registries(const RegistriesPaths& paths) {
  auto cannot_read = [](const std::string& path, const std::string& why) {
    return Error{"cannot read registries configuration \"" + path +
                     "\": " + why + ": fix the file or its permissions",
                 kRegistriesRead};
  };
  RegistriesConf merged;
  auto load = [&](const std::string& path,
                  const std::string& text) -> Result<Ok> {
    auto conf = parse_registries(text, path);
    if (!conf) return conf.error();
    Merge(merged, std::move(*conf));
    return Ok{};
  };
  for (const std::string& main : paths.main_files) {
    auto text = read_file(main, kMaxRegistriesFileBytes);
    if (!text) {
      if (text.error().err == ENOENT && !paths.main_must_exist) continue;
      if (text.error().err == ENOENT)
        return Error{"cannot read registries configuration \"" + main +
                         "\": " + text.error().message +
                         ": create it or pass --registries-conf",
                     kRegistriesRead};
      return cannot_read(main, text.error().message);
    }
    if (auto r = load(main, *text); !r) return r.error();
    break;
  }
  std::map<std::string, std::string> dropins;  // name -> path
  for (const std::string& dir : paths.dropin_dirs) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) continue;
      return Error{"cannot read registries drop-in directory \"" + dir +
                       "\": " + ec.message() + ": fix its permissions",
                   kRegistriesRead};
    }
    for (const fs::directory_entry& entry : it) {
      std::string name = entry.path().filename().string();
      if (entry.symlink_status(ec).type() == fs::file_type::directory) continue;
      if (name.ends_with(".conf")) dropins[name] = entry.path().string();
    }
  }
  for (auto& [name, path] : dropins) {
    auto text = read_file(path, kMaxRegistriesFileBytes);
    if (!text) {
      if (text.error().err == ENOENT) continue;
      return cannot_read(path, text.error().message);
    }
    if (auto r = load(path, *text); !r) return r.error();
  }
  return merged;
}

std::string effective_short_name_mode(const RegistriesConf& conf) {
  return conf.short_name_mode.empty() ? "permissive" : conf.short_name_mode;
}

std::vector<std::string> effective_credential_helpers(
    const RegistriesConf& conf) {
  if (conf.credential_helpers.empty()) return {"containers-auth.json"};
  return conf.credential_helpers;
}
