// registries.conf (containers-registries.conf(5), v2 format) as
// containers/image v5.40 reads it: which registry entry a reference matches
// and, in order, the sources a pull of it will try. One file per step:
// registries_parse.cc (one file's TOML, after toml_guard.cc),
// registries_load.cc (which files, merged), registries.cc (matching and pull
// sources).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reference.h"
#include "result.h"

struct Endpoint {
  std::string location;  // no scheme, trailing '/' trimmed
  bool insecure = false;
  std::string pull_from_mirror;  // "", "all", "digest-only", "tag-only"
};

struct Registry {
  std::string prefix;  // defaults to the location; may be "*.example.com"
  Endpoint endpoint;
  std::vector<Endpoint> mirrors;
  bool blocked = false;
  bool mirror_by_digest_only = false;
};

struct RegistriesConf {
  std::vector<Registry> registries;  // unique prefixes, sorted
  // The top-level settings; a later file that sets one replaces it
  // (updateWithConfigurationFrom), an empty list included.
  std::vector<std::string> files;  // the files read, in order
  bool has_search_registries = false;
  std::vector<std::string> unqualified_search_registries;  // trailing '/' cut
  std::string search_registries_origin;  // the file that set them
  std::string short_name_mode;           // "" when no file sets it
  bool has_credential_helpers = false;
  std::vector<std::string> credential_helpers;
};

// containers/image's defaults for what no file sets (tryUpdatingCache).
std::string effective_short_name_mode(const RegistriesConf& conf);
std::vector<std::string> effective_credential_helpers(
    const RegistriesConf& conf);

// Where to read the configuration. The first existing main file is read;
// drop-ins are the "*.conf" files of the directories, merged by name (a later
// directory wins) and read in name order.
struct RegistriesPaths {
  std::vector<std::string> main_files;
  bool main_must_exist = false;  // true for a path given explicitly
  std::vector<std::string> dropin_dirs;
};

// The paths CRI-O uses: an explicit --registries-conf (must exist), else
// $CONTAINERS_REGISTRIES_CONF (must exist, no drop-ins), else
// /etc/containers/registries.conf then /usr/share/containers/registries.conf;
// drop-ins from `dropin_dir` (CRI-O's registries_conf_dir).
RegistriesPaths default_registries_paths(const std::string& explicit_main,
                                         const char* env_main,
                                         const std::string& dropin_dir);

// Error kinds: a file that cannot be opened or read, TOML that does not
// parse, settings containers/image refuses, a pull source whose rewrite is
// not a valid reference.
inline constexpr const char* kRegistriesRead = "registries-read";
inline constexpr const char* kRegistriesSyntax = "registries-syntax";
inline constexpr const char* kRegistriesInvalid = "registries-invalid";
inline constexpr const char* kPullSource = "pull-source";

Result<RegistriesConf> load_registries(const RegistriesPaths& paths);

// One file's content; `origin` names it in errors.
Result<RegistriesConf> parse_registries(std::string_view toml,
                                        std::string_view origin);

// The entry with the longest prefix matching `name` (a repository name,
// without tag or digest), or nullptr.
const Registry* find_registry(const RegistriesConf& conf,
                              std::string_view name);

struct PullSource {
  Endpoint endpoint;
  Reference reference;  // the reference rewritten for this endpoint
  bool mirror = false;
};

// The sources containers/image tries for `ref`, in order: mirrors allowed
// for a tagged/digested reference, then the registry's own location.
Result<std::vector<PullSource>> pull_sources(const Registry& registry,
                                             const Reference& ref);

// The sources a pull of repository `name` may reach whatever its tag or
// digest, that need credentials we can provide: every mirror, and the
// registry's location when it rewrites the prefix. Locations that cannot
// take the name are left out. `blocked` is not applied here: containers/image
// checks it against each source's own name (see find_registry).
std::vector<PullSource> credential_sources(const Registry& registry,
                                           const Reference& name);

// True when `location` is `scope` or lies under it ("host" covers
// "host/path", not "host:5000" or "hostname").
bool location_within(std::string_view location, std::string_view scope);
