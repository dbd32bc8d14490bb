// Small ASCII text helpers shared by every parser: one of each.
#pragma once

#include <string>
#include <string_view>

// ASCII letters lower-cased; other bytes unchanged (no locale).
std::string ascii_lower(std::string_view s);

// Go's strings.EqualFold where one side is ASCII (a field name, a scheme):
// ASCII letters fold, and so do the two runes whose folding reaches ASCII,
// U+017F (long s) to 's' and U+212A (Kelvin) to 'k'; any other non-ASCII
// byte matches only itself. Go's encoding/json and BurntSushi/toml match
// field names this way.
bool equals_ignore_case(std::string_view a, std::string_view b);

// Without leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view s);

// A decimal number of at most 18 digits, nothing else; false otherwise.
bool parse_decimal(std::string_view s, unsigned long long* out);
