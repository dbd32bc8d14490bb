#include "log.h"

#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "utf8.h"

namespace {

// Runes a terminal or log viewer would act on or that reorder the text.
bool IsUnsafeRune(char32_t r) {
  return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 ||
         (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
         r == 0x200e || r == 0x200f || r == 0x061c || r == 0xfeff;
}

const char* Name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warning";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "";
}

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kWarn:
      return LOG_WARNING;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kDebug:
      return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (LogLevel l :
       {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug})
    if (text == Name(l) || (l == LogLevel::kWarn && text == "warn")) {
      out = l;
      return true;
    }
  return false;
}

std::string log_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    char32_t r = decode_rune(text, i);
    bool invalid = r == kRuneError && i - start == 1;
    if (!invalid && !IsUnsafeRune(r)) {
      out.append(text, start, i - start);
      continue;
    }
    char escaped[16];
    if (r == '\n')
      std::snprintf(escaped, sizeof escaped, "\\n");
    else if (r == '\r')
      std::snprintf(escaped, sizeof escaped, "\\r");
    else if (r == '\t')
      std::snprintf(escaped, sizeof escaped, "\\t");
    else if (invalid || r < 0x80)
      std::snprintf(escaped, sizeof escaped, "\\x%02x",
                    static_cast<unsigned char>(text[start]));
    else
      std::snprintf(escaped, sizeof escaped, "\\u%04x",
                    static_cast<unsigned>(r));
    out += escaped;
  }
  return out;
}

std::string log_value(std::string_view text, size_t max) {
  std::string quoted = "\"";
  for (char c : text.substr(0, max)) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  if (text.size() > max) quoted += "...";
  return log_safe(quoted + "\"");
}

Logger::Logger(LogLevel level, bool to_syslog)
    : level_(level), syslog_(to_syslog) {
  if (syslog_) ::openlog("crio-credential-provider", LOG_PID, LOG_DAEMON);
}

Logger::~Logger() {
  if (syslog_) ::closelog();
}

void Logger::log(LogLevel level, std::string_view message) const {
  if (!enabled(level)) return;
  std::string text = log_safe(message);
  // One write per line so concurrent invocations do not interleave.
  std::string line = "crio-credential-provider: ";
  line += Name(level);
  line += ": ";
  line += text;
  line += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (syslog_)
    ::syslog(Priority(level), "%.*s", static_cast<int>(text.size()),
             text.data());
}
