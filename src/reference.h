// Image references, parsed and normalized as containers/image's
// docker/reference package does (ParseNormalizedNamed, ParseNamed), so that
// the names we hash and match are byte-identical to CRI-O's.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

struct Reference {
  // "docker.io", "quay.io", "localhost:5000". Empty only in the corner case
  // where the first component is not a valid domain but the whole name is a
  // valid path (e.g. "a_b.c/x"), which the reference grammar allows.
  std::string domain;
  std::string path;    // "library/nginx"
  std::string tag;     // "" when absent
  std::string digest;  // "sha256:<hex>", "" when absent

  // The repository name: "docker.io/library/nginx".
  std::string name() const;
  // name[:tag][@digest], as reference.Named.String() prints it.
  std::string str() const;
};

// ParseNormalizedNamed: "nginx" -> docker.io/library/nginx,
// "index.docker.io/x" -> docker.io/library/x, tag and digest validated and
// kept. Errors say what is wrong with the reference.
Result<Reference> parse_normalized_named(std::string_view text);

// reference.Parse: the grammar alone, no normalization (domain may be "").
Result<Reference> parse_reference(std::string_view text);

// A registry host with optional port, as the reference grammar defines it.
bool is_domain(std::string_view text);

// ParseNamed: like parse_normalized_named, but the text must already be in
// canonical form (used for references rewritten by registries.conf).
Result<Reference> parse_named(std::string_view text);
