// Image references: the grammar, normalization and the canonical-form check.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)is_domain(text);
  (void)parse_reference(text);
  auto normalized = parse_normalized_named(text);
  if (normalized) {
    // The normalized form is canonical: ParseNamed takes it back unchanged.
    auto again = parse_named(normalized->str());
    if (!again || again->str() != normalized->str()) abort();
  }
  auto named = parse_named(text);
  if (named && named->str() != text) abort();
  return 0;
}
