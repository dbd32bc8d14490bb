#include "duration.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace {

struct Unit {
  std::string_view name;
  int64_t ns;
};
constexpr Unit kUnits[] = {{"ns", 1},
                           {"us", 1000},
                           {"\xC2\xB5s", 1000},  // U+00B5 micro sign
                           {"\xCE\xBCs", 1000},  // U+03BC Greek mu
                           {"ms", 1000000},
                           {"s", 1000000000},
                           {"m", 60LL * 1000000000},
                           {"h", 3600LL * 1000000000}};

// Appends v / 10^prec with trailing zeros of the fraction removed.
std::string FormatFraction(uint64_t v, int prec) {
  std::string digits = std::to_string(v);
  if (prec == 0) return digits;
  if (static_cast<int>(digits.size()) <= prec)
    digits = std::string(prec + 1 - digits.size(), '0') + digits;
  std::string integer = digits.substr(0, digits.size() - prec);
  std::string fraction = digits.substr(digits.size() - prec);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return fraction.empty() ? integer : integer + "." + fraction;
}

}  // namespace

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
  const Error bad{"invalid duration \"" + std::string(text) +
                  "\": use a Go duration such as 0s, 30s, 5m or 1h"};
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return bad;
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i++] - '0');
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return bad;
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits)
      if (s.starts_with(u.name) && (!unit || u.name.size() > unit->name.size()))
        unit = &u;
    if (!unit) return bad;  // Go requires a unit on every number
    s.remove_prefix(unit->name.size());
    total += value * unit->ns;
    // As in Go, a negative duration reaches one further: -2^63.
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max()) +
                    (negative ? 1 : 0))
      return bad;
  }
  auto magnitude = static_cast<uint64_t>(total + 0.5L);
  return std::chrono::nanoseconds(static_cast<int64_t>(
      negative ? 0 - magnitude
               : std::min<uint64_t>(magnitude,
                                    std::numeric_limits<int64_t>::max())));
}

std::string format_go_duration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u =
      ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  if (u < 1000000000ULL) {
    if (u < 1000ULL) return sign + std::to_string(u) + "ns";
    if (u < 1000000ULL) return sign + FormatFraction(u, 3) + "\xC2\xB5s";
    return sign + FormatFraction(u, 6) + "ms";
  }
  uint64_t hours = u / 3600000000000ULL;
  u -= hours * 3600000000000ULL;
  uint64_t minutes = u / 60000000000ULL;
  u -= minutes * 60000000000ULL;
  std::string out = sign;
  if (hours) out += std::to_string(hours) + "h";
  if (hours || minutes) out += std::to_string(minutes) + "m";
  return out + FormatFraction(u, 9) + "s";
}
