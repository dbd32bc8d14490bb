// The service-account token kubelet passes: JWT framing, base64url, the
// claims, and the names that end up in file names and API paths.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base64.h"
#include "token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto id = identity_from_token(text)) {
    // The namespace goes into a file name: it must be a DNS-1123 label.
    if (!is_dns1123_label(id->ns) || !is_dns1123_subdomain(id->pod_name))
      abort();
  }
  (void)base64url_decode(text);
  (void)base64_decode(text);
  auto decoded = base64_decode(base64_encode(text));
  if (!decoded || *decoded != text) abort();
  return 0;
}
