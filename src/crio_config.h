// What `doctor` needs from CRI-O: the namespaced_auth_dir its configuration
// sets, and whether its version has that option at all.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "result.h"

inline constexpr std::string_view kCrioDefaultAuthDir = "/etc/crio/auth";
// v1.34.0-v1.34.2 lack namespaced_auth_dir.
inline constexpr std::array<int, 3> kCrioFirstNamespacedAuth = {1, 34, 3};

// `[crio.image] namespaced_auth_dir` from the main file (missing = CRI-O's
// defaults) and then the drop-ins (`*.conf` in name order, later wins), as
// CRI-O merges them.
Result<std::string> crio_namespaced_auth_dir(const std::string& main_file,
                                             const std::string& dropin_dir);

// The first "X.Y.Z" in `text` (e.g. `crio --version`, `kubelet --version`).
std::optional<std::array<int, 3>> parse_version(std::string_view text);
