// The content of pull secrets: kubernetes.io/dockerconfigjson
// ({"auths":{KEY:{...}}}) and the legacy kubernetes.io/dockercfg ({KEY:{...}}),
// decoded as kubelet decodes them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "result.h"

struct DockerConfigEntry {
  std::string key;  // as written in the secret, e.g. "https://mirror:5000/v1/"
  std::string username;
  std::string password;
};

// {"auths": {...}}. A missing "auths" and a `null` document give no entries.
Result<std::vector<DockerConfigEntry>> parse_dockerconfigjson(
    std::string_view json);
// {KEY: {...}}.
Result<std::vector<DockerConfigEntry>> parse_dockercfg(std::string_view json);
// Either form: an object with a member named "auths" (in any case, as Go
// matches it) is the first; anything else the second.
Result<std::vector<DockerConfigEntry>> parse_docker_config(
    std::string_view json);

// By secret type; an unknown type is an error.
Result<std::vector<DockerConfigEntry>> parse_pull_secret(std::string_view type,
                                                         std::string_view data);
