#include "json.h"

#include <string>

namespace {

using nlohmann::json;
using DomParser = nlohmann::detail::json_sax_dom_parser<json>;
using Sax = nlohmann::json_sax<json>;

// Bytes a value costs in nlohmann::json, including allocator overhead and
// the slack of a growing std::vector (measured on libstdc++ with glibc).
constexpr std::size_t kValueCost = 48;
constexpr std::size_t kContainerCost = 64;
constexpr std::size_t kMemberCost = 96;
constexpr std::size_t kStringCost = 48;

// A handler (nlohmann's DOM builder, or a caller's) behind a guard:
// returning false stops the parser at once, before the next byte is read.
template <class Handler>
class Bounded {
 public:
  explicit Bounded(Handler& dom) : dom_(dom) {}

  bool null() { return Charge(kValueCost) && dom_.null(); }
  bool boolean(bool v) { return Charge(kValueCost) && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) {
    return Charge(kValueCost) && dom_.number_integer(v);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return Charge(kValueCost) && dom_.number_unsigned(v);
  }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return Charge(kValueCost) && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) {
    return Charge(kValueCost + kStringCost + v.size()) && dom_.string(v);
  }
  bool binary(json::binary_t& v) {
    return Charge(kValueCost + v.size()) && dom_.binary(v);
  }
  bool start_object(std::size_t n) {
    return Enter() && Charge(kValueCost + kContainerCost) &&
           dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    return Charge(kMemberCost + k.size()) && dom_.key(k);
  }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    return Enter() && Charge(kValueCost + kContainerCost) &&
           dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& token,
                   const nlohmann::detail::exception& e) {
    return dom_.parse_error(position, token, e);
  }

  // Why parsing stopped early; empty when it was the syntax.
  const std::string& refused() const { return refused_; }

 private:
  bool Enter() {
    if (++depth_ <= kMaxJsonDepth) return true;
    refused_ =
        "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  bool Charge(std::size_t bytes) {
    cost_ += bytes;
    if (cost_ <= kMaxJsonMemory) return true;
    refused_ = "too large to hold in memory (more than " +
               std::to_string(kMaxJsonMemory >> 20) + " MiB parsed)";
    return false;
  }

  Handler& dom_;
  int depth_ = 0;
  std::size_t cost_ = 0;
  std::string refused_;
};

// Runs the parser over `text` with `handler` behind the bounds.
template <class Handler>
Result<Ok> ParseBounded(std::string_view text, Handler& handler) {
  Bounded<Handler> sax(handler);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &sax);
  } catch (const json::exception&) {
    ok = false;
  }
  if (!sax.refused().empty()) return Error{sax.refused()};
  if (!ok) return Error{"not valid JSON"};
  return Ok{};
}

}  // namespace

Result<json> parse_json(std::string_view text) {
  json out;
  DomParser dom(out, /*allow_exceptions=*/false);
  if (auto parsed = ParseBounded(text, dom); !parsed) return parsed.error();
  if (out.is_discarded()) return Error{"not valid JSON"};
  return out;
}

Result<Ok> parse_json_sax(std::string_view text, Sax& handler) {
  return ParseBounded(text, handler);
}
