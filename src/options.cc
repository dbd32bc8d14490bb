#include "options.h"

#include <cstdlib>

Result<RegistriesConf> load_registries(const RegistriesOptions& options) {
  return load_registries(default_registries_paths(
      options.registries_conf, std::getenv("CONTAINERS_REGISTRIES_CONF"),
      options.registries_conf_dir));
}
