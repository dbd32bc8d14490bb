// The API client's decoding of kube-apiserver's answers (src/api_objects.cc):
// a Pod, a ServiceAccount, a Secret, a SecretList page with its continue
// token, and a Status, each from the same hostile body.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api_objects.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)decode_pod(body);
  (void)decode_service_account_pull_secrets(body);
  (void)decode_status(body);
  if (auto secret = decode_secret(body)) {
    // Only a pull secret's own key is ever decoded.
    if (!secret->config.empty() &&
        secret->type != "kubernetes.io/dockerconfigjson" &&
        secret->type != "kubernetes.io/dockercfg")
      abort();
  }
  if (auto page = decode_secret_list(body)) {
    // The token goes back into the next request line.
    if (page->continue_token.size() > kMaxContinueToken) abort();
    for (char c : page->continue_token)
      if (c <= ' ' || c > '~') abort();
    if (page->items.size() > size) abort();
  }
  return 0;
}
