// registries.conf as CRI-O reads it: a main file and drop-ins, merged, then
// the pull sources of an image. Input: documents separated by "====" lines:
// the image, the main registries.conf, then up to four drop-ins.
#include <cstdint>
#include <string>

#include "credentials.h"
#include "fuzz_input.h"
#include "reference.h"
#include "registries.h"

namespace {
constexpr size_t kMaxDropins = 4;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = split_documents(data, size, 2 + kMaxDropins);
  static const std::string dir = scratch_dir();
  static const std::string dropins = [] {
    std::string d = dir + "/registries.conf.d";
    mkdir(d.c_str(), 0700);
    return d;
  }();
  put_file(dir + "/registries.conf", parts.size() > 1 ? parts[1] : "");
  for (size_t i = 0; i < kMaxDropins; ++i)
    put_file(dropins + "/" + std::to_string(i) + ".conf",
             2 + i < parts.size() ? parts[2 + i] : "", 2 + i < parts.size());

  RegistriesPaths paths;
  paths.main_files = {dir + "/registries.conf"};
  paths.main_must_exist = true;
  paths.dropin_dirs = {dropins};
  auto conf = load_registries(paths);
  if (!conf) return 0;

  auto ref = parse_normalized_named(parts[0]);
  if (!ref) return 0;
  if (const Registry* reg = find_registry(*conf, ref->name())) {
    (void)pull_sources(*reg, *ref);
    (void)credential_sources(*reg, *ref);
  }
  Reference name = *ref;
  name.tag.clear();
  name.digest.clear();
  for (const PullSource& s : sources_needing_credentials(*conf, name, {}))
    (void)location_within(s.endpoint.location, name.domain);
  return 0;
}
