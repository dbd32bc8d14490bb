// Pull-secret contents and kubelet's keyring: the secrets a tenant writes,
// matched against an image, down to the auth file we would write. Input:
// documents separated by "====" lines: the image, then up to four secrets
// (either form; the legacy form is also tried as such).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "authfile.h"
#include "credentials.h"
#include "dockercfg.h"
#include "fuzz_input.h"
#include "keyring.h"
#include "reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = split_documents(data, size, 5);
  Keyring keyring;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string source = "secret-" + std::to_string(i);
    if (auto entries = parse_docker_config(parts[i]))
      keyring_add(keyring, *entries, source);
    if (auto entries = parse_pull_secret("kubernetes.io/dockercfg", parts[i]))
      keyring_add(keyring, *entries, source);
  }
  for (const KeyringMatch& m : keyring_lookup(keyring, parts[0]))
    if (m.credential == nullptr) abort();

  // The provider's path: sources of the image, one credential each, the
  // auth file's JSON.
  auto ref = parse_normalized_named(parts[0]);
  if (!ref) return 0;
  PullSource source;
  source.endpoint.location = ref->domain;
  source.reference = *ref;
  source.mirror = true;
  auto entries = auth_entries(choose_credentials({source}, keyring));
  if (auto file = build_auth_file("", entries); !file) abort();
  return 0;
}
