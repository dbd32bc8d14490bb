#include "ticket.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "authfile.h"
#include "json.h"
#include "sha256.h"

namespace {

using nlohmann::json;

// A ticket holds a few credentials; anything far larger is not ours.
constexpr size_t kMaxTicketBytes = 256 << 10;

std::string Hex(const unsigned char* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::string> Random(size_t bytes) {
  unsigned char buf[64];
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::getrandom(buf + done, bytes - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Error{std::string("the kernel's random generator failed: ") +
                   std::strerror(errno)};
    done += n;
  }
  return Hex(buf, bytes);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool IsTicketFileName(std::string_view name) {
  return name.ends_with(".json") &&
         is_ticket_id(name.substr(0, name.size() - 5));
}

}  // namespace

bool is_ticket_id(std::string_view text) {
  return text.size() == kTicketPrefix.size() + 32 &&
         text.starts_with(kTicketPrefix) &&
         IsLowerHex(text.substr(kTicketPrefix.size()));
}

Result<TicketCredential> new_ticket_credential() {
  auto id = Random(16);
  if (!id) return id.error();
  auto secret = Random(32);
  if (!secret) return secret.error();
  return TicketCredential{std::string(kTicketPrefix) + *id, *secret};
}

Result<IssuedTicket> new_ticket(std::string ns, std::string image,
                                std::chrono::nanoseconds ttl,
                                std::chrono::system_clock::time_point now) {
  auto credential = new_ticket_credential();
  if (!credential) return credential.error();
  IssuedTicket issued{{}, *credential};
  Ticket& t = issued.ticket;
  t.id = credential->username;
  t.secret_sha256 = sha256_hex(credential->password);
  t.ns = std::move(ns);
  t.image = std::move(image);
  t.expires = std::chrono::duration_cast<std::chrono::seconds>(
                  (now + ttl).time_since_epoch())
                  .count();
  return issued;
}

std::string ticket_to_json(const Ticket& t) {
  json sources = json::array();
  for (const TicketSource& s : t.sources)
    sources.push_back({{"repository", s.repository},
                       {"insecure", s.insecure},
                       {"mirror", s.mirror},
                       {"tags", s.tags},
                       {"digests", s.digests},
                       {"username", s.username},
                       {"password", s.password}});
  json doc = {{"id", t.id},           {"secretSha256", t.secret_sha256},
              {"namespace", t.ns},    {"image", t.image},
              {"expires", t.expires}, {"sources", sources}};
  return doc.dump() + "\n";
}

Result<Ticket> ticket_from_json(std::string_view text) {
  // Bounded like every JSON we read, though only root writes tickets.
  auto parsed = parse_json(text);
  if (!parsed || !parsed->is_object())
    return Error{"the ticket file is not a JSON object"};
  const json& doc = *parsed;
  try {
    Ticket t;
    t.id = doc.at("id").get<std::string>();
    t.secret_sha256 = doc.at("secretSha256").get<std::string>();
    t.ns = doc.at("namespace").get<std::string>();
    t.image = doc.at("image").get<std::string>();
    t.expires = doc.at("expires").get<long long>();
    for (const json& s : doc.at("sources")) {
      TicketSource source;
      source.repository = s.at("repository").get<std::string>();
      source.insecure = s.at("insecure").get<bool>();
      source.mirror = s.at("mirror").get<bool>();
      source.tags = s.at("tags").get<bool>();
      source.digests = s.at("digests").get<bool>();
      source.username = s.at("username").get<std::string>();
      source.password = s.at("password").get<std::string>();
      t.sources.push_back(std::move(source));
    }
    if (!is_ticket_id(t.id) || t.secret_sha256.size() != 64 ||
        !IsLowerHex(t.secret_sha256) || t.image.empty())
      return Error{"the ticket file has an invalid id, hash or image"};
    return t;
  } catch (const json::exception&) {
    return Error{"the ticket file lacks a field or has one of the wrong type"};
  }
}

Result<Ok> write_ticket(const std::string& dir, const Ticket& ticket) {
  if (!is_ticket_id(ticket.id))
    return Error{"internal error: malformed ticket id"};
  // The auth dir's checks (root-owned, not a symlink, no group or other
  // write) plus no group or other access at all.
  auto opened = open_auth_dir(dir);
  if (!opened) return opened.error();
  if (auto private_dir = check_ticket_dir(dir); !private_dir)
    return private_dir.error();
  return write_auth_file(*opened, ticket.id + ".json", ticket_to_json(ticket));
}

Result<Ok> check_ticket_dir(const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0)
    return Error{"cannot use ticket dir \"" + dir +
                 "\": " + std::strerror(errno) +
                 ": create it (mode 0700, owned by root) or fix --ticket-dir"};
  if (!S_ISDIR(st.st_mode))
    return Error{"ticket dir \"" + dir +
                 "\" is not a directory: fix --ticket-dir"};
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return Error{"ticket dir \"" + dir +
                 "\" is accessible to other users: chown it to root and "
                 "chmod 0700"};
  return Ok{};
}

Result<Ticket> redeem_ticket(const std::string& dir,
                             const TicketCredential& credential,
                             std::chrono::system_clock::time_point now) {
  if (!is_ticket_id(credential.username))
    return Error{"the user name is not a ticket"};
  std::string path = dir + "/" + credential.username + ".json";
  Fd f{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0)
    return Error{errno == ENOENT ? "unknown or already redeemed ticket"
                                 : std::string("cannot open the ticket: ") +
                                       std::strerror(errno)};
  struct stat st;
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_uid != ::geteuid() || (st.st_mode & 077) != 0 ||
      st.st_size > static_cast<off_t>(kMaxTicketBytes))
    return Error{"the ticket file is not a private regular file of ours"};
  std::string content(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::read(f.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"cannot read the ticket file"};
    done += n;
  }
  auto ticket = ticket_from_json(content);
  if (!ticket) return ticket.error();
  std::string presented = sha256_hex(credential.password);
  if (ticket->id != credential.username ||
      CRYPTO_memcmp(presented.data(), ticket->secret_sha256.data(),
                    presented.size()) != 0)
    return Error{"wrong ticket secret"};
  // Removed before it is used: a second redemption finds nothing.
  if (::unlink(path.c_str()) != 0)
    return Error{std::string("cannot remove the redeemed ticket: ") +
                 std::strerror(errno)};
  long long seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
          .count();
  if (seconds > ticket->expires) return Error{"expired ticket"};
  return ticket;
}

int remove_stale_tickets(const std::string& dir,
                         std::chrono::nanoseconds max_age) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int fd = ::dirfd(d);
  while (struct dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    // Ours, or a temporary file a failed write left (authfile.cc's prefix).
    if (!IsTicketFileName(name) && !name.starts_with(".ccp-tmp-ccpt-"))
      continue;
    struct stat st;
    if (::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    auto mtime = std::chrono::seconds(st.st_mtim.tv_sec) +
                 std::chrono::nanoseconds(st.st_mtim.tv_nsec);
    if (now - mtime > max_age && ::unlinkat(fd, entry->d_name, 0) == 0)
      ++removed;
  }
  ::closedir(d);
  return removed;
}
