// The provider's pipeline: image -> pull sources that need credentials ->
// the pod's pull secrets -> one credential per source -> the auth file.
#pragma once

#include <string>
#include <string_view>

#include "log.h"
#include "options.h"
#include "result.h"

// The whole provider mode: a CredentialProviderRequest in, a response out.
// Every failure is an Error with the one line to print.
Result<std::string> run_provider(const ProviderOptions& options,
                                 std::string_view request, const Logger& log);
