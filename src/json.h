// Every JSON document the provider reads (API answers, pull secrets, the
// kubelet request, the global auth file, token claims) is parsed here, so
// that no input costs more than a bounded amount of memory while parsing
// and no value is nested deeply enough to overflow the stack later (dump,
// copy and comparison recurse).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "result.h"

// Go's encoding/json refuses deeper nesting ("exceeded max depth"), so
// nothing kubelet, CRI-O or the API server accept is refused here.
constexpr int kMaxJsonDepth = 10000;

// An estimate of what the parsed document occupies, counted while parsing:
// a 16 MiB body of `[0,0,...]` or `[{},{},...]` would otherwise cost
// 300-500 MiB. Real API pages, pull secrets and auth files stay far below.
// 20 MiB, not more: beside the 16 MiB body it was parsed from and the
// process's own pages, the issue-9 budget of 64 MiB peak RSS still holds.
constexpr std::size_t kMaxJsonMemory = 20u << 20;

// Parses `text`; the error says what was wrong in one line, never quoting
// the input.
Result<nlohmann::json> parse_json(std::string_view text);

// The same bounds for a caller that needs what the DOM drops (member order,
// every value of a key given twice, as Go's encoding/json decodes them):
// events go to `handler`; false from it stops parsing ("not valid JSON").
Result<Ok> parse_json_sax(std::string_view text,
                          nlohmann::json_sax<nlohmann::json>& handler);
