// The offline subcommands: `resolve` (what a pull of an image would use) and
// `match` (kubelet's keyring lookup). No API calls; never print a password.
#pragma once

#include "options.h"

// Each returns the process exit code and prints to stdout/stderr.
int run_resolve(const ResolveOptions& options);
int run_match(const MatchOptions& options);
