// kubelet's credential keyring (pkg/credentialprovider): how the keys of
// pull secrets match an image. A key may carry a scheme (ignored), a host
// whose labels are globs, a port and a path prefix; longer keys are tried
// first.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dockercfg.h"

struct KeyringCredential {
  std::string username;
  std::string password;
  std::string source;  // the secret it came from (for logs)
};

struct Keyring {
  // By normalized key ("host[:port][/path]"). Looked up in reverse key
  // order, so that more specific paths come first: kubelet keeps a separate
  // index re-sorted on every add, which costs O(n^2 log n) over a
  // namespace's many secrets; the map's order is the same index.
  std::map<std::string, std::vector<KeyringCredential>> credentials;
};

// Adds one secret's entries. Keys that do not parse as a URL are skipped,
// as kubelet does.
void keyring_add(Keyring& keyring,
                 const std::vector<DockerConfigEntry>& entries,
                 std::string_view source);

struct KeyringMatch {
  std::string key;
  const KeyringCredential* credential;
  // Returned only because nothing matched and kubelet then falls back to
  // the index.docker.io credentials, whatever the image.
  bool fallback = false;
};

// Every credential for `image` (a repository name, no scheme), in kubelet's
// order.
std::vector<KeyringMatch> keyring_lookup(const Keyring& keyring,
                                         std::string_view image);

// kubelet's URLsMatchStr: whether `glob` (a matchImages pattern or a
// secret's key) matches `target` (an image name).
bool kubelet_urls_match(std::string_view glob, std::string_view target);

// Go's path/filepath.Match on one host label.
bool glob_match(std::string_view pattern, std::string_view name);
