#include "pull_records.h"

#include <dirent.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "file.h"
#include "json.h"
#include "kubelet_config.h"
#include "reference.h"

namespace {

// Records are small; a larger file is not one kubelet wrote.
constexpr std::size_t kMaxRecordBytes = 1 << 20;

bool Mirrored(const RegistriesConf& conf,
              const std::vector<std::string>& prefixes,
              const std::string& image) {
  auto ref = parse_normalized_named(image);
  if (!ref) return false;
  const Registry* registry = find_registry(conf, ref->name());
  return registry && std::find(prefixes.begin(), prefixes.end(),
                               registry->prefix) != prefixes.end();
}

}  // namespace

std::vector<SharedPullRecord> shared_mirrored_pull_records(
    const std::string& kubelet_root_dir, const RegistriesConf& conf,
    size_t limit) {
  std::vector<SharedPullRecord> found;
  std::string dir = kubelet_root_dir + "/image_manager/pulled";
  std::vector<std::string> files;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      files.push_back(dir + "/" + e->d_name);
      if (files.size() >= limit) break;
    }
    ::closedir(d);
  }
  std::sort(files.begin(), files.end());
  auto prefixes = prefixes_needing_provider(conf, {});
  for (const std::string& file : files) {
    auto text = read_file(file, kMaxRecordBytes);
    if (!text) continue;
    auto parsed = parse_json(*text);
    if (!parsed || !parsed->is_object()) continue;
    const nlohmann::json& record = *parsed;
    auto mapping = record.find("credentialMapping");
    if (mapping == record.end() || !mapping->is_object()) continue;
    for (const auto& [image, credentials] : mapping->items()) {
      if (!credentials.is_object()) continue;
      auto open = credentials.find("nodePodsAccessible");
      if (open != credentials.end() && open->is_boolean() &&
          open->get<bool>() && Mirrored(conf, prefixes, image))
        found.push_back({file, image});
    }
  }
  return found;
}
