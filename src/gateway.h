// The mirror gateway for containerd (docs/containerd.md): serves the OCI
// distribution API on loopback, redeems the provider's single-pull tickets
// and fetches each manifest and blob from the ticket's sources with the
// tenant's credentials, streaming.
#pragma once

#include "options.h"

// Runs until SIGTERM or SIGINT, then drains: stops accepting, lets requests
// in flight finish (up to --drain-timeout) and exits 0. Exit 1 when it
// cannot start, with one line on stderr naming the fix.
int run_gateway(const GatewayOptions& options);
