#include "credential_provider_config.h"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>

#include "file.h"

namespace {

// kubelet reads its CredentialProviderConfig whole; real ones are a few KiB.
constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::string Scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.as<std::string>() : std::string();
}

std::vector<std::string> Strings(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n && n.IsSequence())
    for (const YAML::Node& item : n) out.push_back(Scalar(item));
  return out;
}

}  // namespace

const ProviderEntry* CredentialProviderConfig::ours() const {
  for (const ProviderEntry& p : providers)
    if (p.name == kProviderName) return &p;
  return nullptr;
}

Result<CredentialProviderConfig> parse_credential_provider_config(
    std::string_view text, const std::string& path) {
  CredentialProviderConfig config;
  config.path = path;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap() || Scalar(root["kind"]) != "CredentialProviderConfig")
      return Error{"credential provider config " + path +
                   ": not a CredentialProviderConfig (kind): point "
                   "--credential-provider-config at kubelet's "
                   "--image-credential-provider-config"};
    for (const YAML::Node& p : root["providers"]) {
      ProviderEntry e;
      e.name = Scalar(p["name"]);
      e.api_version = Scalar(p["apiVersion"]);
      e.match_images = Strings(p["matchImages"]);
      if (p["defaultCacheDuration"])
        e.default_cache_duration = Scalar(p["defaultCacheDuration"]);
      if (YAML::Node t = p["tokenAttributes"]; t && t.IsMap()) {
        e.has_token_attributes = true;
        e.audience = Scalar(t["serviceAccountTokenAudience"]);
        e.cache_type = Scalar(t["cacheType"]);
        if (t["requireServiceAccount"])
          e.require_service_account = t["requireServiceAccount"].as<bool>();
      }
      e.args = Strings(p["args"]);
      config.providers.push_back(std::move(e));
    }
  } catch (const YAML::Exception& e) {
    return Error{"credential provider config " + path + ": not valid YAML (" +
                 std::string(e.what()) + "): fix the file kubelet reads"};
  }
  return config;
}

Result<CredentialProviderConfig> load_credential_provider_config(
    const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Error{"credential provider config " + path +
                 " does not exist: pass kubelet's "
                 "--image-credential-provider-config as "
                 "--credential-provider-config"};
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    if (DIR* dir = ::opendir(path.c_str())) {
      while (dirent* d = ::readdir(dir)) {
        std::string name = d->d_name;
        for (const char* ext : {".json", ".yaml", ".yml"})
          if (name.size() > std::string_view(ext).size() && name.ends_with(ext))
            files.push_back(path + "/" + name);
      }
      ::closedir(dir);
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  CredentialProviderConfig merged;
  merged.path = path;
  for (const std::string& file : files) {
    auto text = read_file(file, kMaxConfigBytes);
    if (!text)
      return Error{"cannot read credential provider config " + file + ": " +
                   text.error().message +
                   (text.error().err == EACCES ? ": run doctor as root" : "")};
    auto one = parse_credential_provider_config(*text, file);
    if (!one) return one.error();
    for (ProviderEntry& e : one->providers)
      merged.providers.push_back(std::move(e));
  }
  return merged;
}
