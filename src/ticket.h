// Single-pull tickets for containerd: the provider stores the mirror
// credentials it chose for one pull under a random ticket, and answers
// kubelet with the ticket instead of the credentials. The mirror gateway
// redeems the ticket when containerd presents it. A ticket is bound to the
// pod's namespace, the normalized image name and a deadline; the file lives
// in a root-only directory and is removed when redeemed.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

// One place the gateway may fetch the image from, in registries.conf order.
struct TicketSource {
  // The repository at that source: "mirror.corp:5000/hub/library/nginx".
  std::string repository;
  bool insecure = false;  // registries.conf `insecure`
  bool mirror = false;    // false: the registry's own location
  bool tags = true;       // may serve manifests by tag
  bool digests = true;    // may serve manifests and blobs by digest
  // Empty username: anonymous.
  std::string username;
  std::string password;
};

struct Ticket {
  std::string id;             // "ccpt-" + 32 hex; the file name and username
  std::string secret_sha256;  // hex; the password itself is never stored
  std::string ns;             // the pod's namespace
  std::string image;          // normalized repository name
  // Seconds since the epoch after which an unredeemed ticket is worthless.
  long long expires = 0;
  std::vector<TicketSource> sources;
};

// What kubelet receives: the ticket as user name and password.
struct TicketCredential {
  std::string username;
  std::string password;
};

constexpr std::string_view kTicketPrefix = "ccpt-";

// True for "ccpt-" followed by 32 lower-case hex digits: only such names
// ever become a path under the ticket directory.
bool is_ticket_id(std::string_view text);

// A fresh ticket id and secret from the kernel's CSPRNG (getrandom).
Result<TicketCredential> new_ticket_credential();

// A ticket and the credential that presents it.
struct IssuedTicket {
  Ticket ticket;
  TicketCredential credential;
};

// A new ticket, still without sources, for one pull of `image` by a pod of
// namespace `ns`, unredeemable `ttl` after `now`; only the secret's SHA-256
// is kept in the ticket.
Result<IssuedTicket> new_ticket(std::string ns, std::string image,
                                std::chrono::nanoseconds ttl,
                                std::chrono::system_clock::time_point now);

std::string ticket_to_json(const Ticket& ticket);
Result<Ticket> ticket_from_json(std::string_view json);

// Writes the ticket atomically as `dir/<id>.json`, mode 0600, creating `dir`
// with mode 0700 if missing.
Result<Ok> write_ticket(const std::string& dir, const Ticket& ticket);

// Checks that `dir` is a directory owned by this user with no group or other
// access: a ticket directory anyone else can read or write would let them
// steal or forge tickets.
Result<Ok> check_ticket_dir(const std::string& dir);

// Redeems `credential` once: reads `dir/<id>.json` (a regular file owned by
// this user, no symlink), checks the secret in constant time and the
// deadline, and removes the file, so the same ticket cannot be redeemed a
// second time. Errors never contain the secret.
Result<Ticket> redeem_ticket(const std::string& dir,
                             const TicketCredential& credential,
                             std::chrono::system_clock::time_point now);

// Removes tickets (and temporary files) in `dir` older than `max_age`.
int remove_stale_tickets(const std::string& dir,
                         std::chrono::nanoseconds max_age);
