// The TOML guard: input that BurntSushi/toml v1.6 (containers/image v5.40)
// refuses but toml++ 3.3.0 (with its unreleased TOML 1.1 features) would
// accept, or that reaches undefined behaviour in toml++, is refused here.
#pragma once

#include <string_view>
#include <vector>

#include "result.h"

// What toml++ must never see, refused before it parses registries.conf.
// BurntSushi/toml allows only [A-Za-z0-9_-] in a bare key (lex.go
// isBareKeyChar) and nothing but ASCII outside strings and comments, so every
// non-ASCII byte there is an error in Go too; refusing it here also keeps
// toml++ 3.3.0 away from its undefined behaviour on a character U+00A1-U+0499
// right after a key (fixed upstream after 3.3.0). Inside a basic string the
// same test meets the character after a backslash (non-ASCII there is no
// escape, and Go refuses it too) and, after a backslash and blanks, the first
// one past the blanks and blank lines (refused only for the characters it is
// undefined for: Go reads them, and \uXXXX says the same). Every bare value
// (toml++ reads it on to the next value terminator) must hold no quote and no
// non-ASCII character. The same scan refuses '+' in a key and hexadecimal
// floats (lex.go lexHexInteger stops at '.' or 'p'), which toml++'s unreleased
// mode takes. It tracks just enough structure for that: strings, comments, and
// whether the next token is a key or a value.
// Returns the text without a leading byte-order mark (parse.go strips UTF-8 and
// UTF-16 ones). When `registry_headers` is given, it receives the offsets (in
// the returned text) of the lines that are exactly "[[registry]]" at the top
// level, where registries_parse.cc may cut the file into pieces.
Result<std::string_view> guard_toml_input(
    std::string_view text, std::vector<size_t>* registry_headers = nullptr);
