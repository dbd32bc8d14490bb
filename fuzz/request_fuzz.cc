// kubelet's CredentialProviderRequest on stdin, and the response we answer.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto request = parse_request(text);
  if (!request) return 0;
  // The response carries the request's apiVersion back, as valid JSON.
  std::string response =
      make_response(request->api_version, std::chrono::nanoseconds(0));
  auto doc = nlohmann::json::parse(response, nullptr, false);
  if (!doc.is_object() || doc.value("apiVersion", "") != request->api_version)
    abort();
  return 0;
}
