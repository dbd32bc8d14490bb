// Go durations (--timeout, --stale-after, --cache-duration): parse, print,
// and the round trip kubelet relies on for cacheDuration.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = parse_go_duration(text)) {
    auto again = parse_go_duration(format_go_duration(*d));
    if (!again || *again != *d) abort();
  }
  // Any int64 prints as a duration that parses back to itself.
  if (size >= sizeof(int64_t)) {
    int64_t ns;
    std::memcpy(&ns, data, sizeof ns);
    auto back =
        parse_go_duration(format_go_duration(std::chrono::nanoseconds(ns)));
    if (!back || back->count() != ns) abort();
  }
  return 0;
}
