// Go's time.Duration text form, which kubelet uses for cacheDuration and we
// use for our duration flags.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "result.h"

// time.ParseDuration: "0", "1.5s", "10m", "1h2m3.5s", "300ms", "-1s".
Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

// time.Duration.String(): "0s", "1m30s", "1.5s", "500ms", "2h0m0s".
std::string format_go_duration(std::chrono::nanoseconds d);
