// One doctor check's outcome: OK, WARN or FAIL, what was found and the fix.
#pragma once

#include <string>
#include <utility>

enum class CheckStatus { kOk, kWarn, kFail };

struct CheckResult {
  std::string name;  // stable id, e.g. "match-images"
  CheckStatus status = CheckStatus::kOk;
  std::string message;  // what was found
  std::string fix;      // empty for OK
};

inline CheckResult passed(std::string name, std::string message) {
  return {std::move(name), CheckStatus::kOk, std::move(message), ""};
}
inline CheckResult warned(std::string name, std::string message,
                          std::string fix) {
  return {std::move(name), CheckStatus::kWarn, std::move(message),
          std::move(fix)};
}
inline CheckResult failed(std::string name, std::string message,
                          std::string fix) {
  return {std::move(name), CheckStatus::kFail, std::move(message),
          std::move(fix)};
}
