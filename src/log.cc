#include "log.h"

#include <syslog.h>
#include <unistd.h>

#include <string>

namespace {

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

Logger::Logger(LogLevel level, bool to_syslog)
    : level_(level), syslog_(to_syslog) {
  if (syslog_) ::openlog("crio-credential-provider", LOG_PID, LOG_DAEMON);
}

Logger::~Logger() {
  if (syslog_) ::closelog();
}

void Logger::log(LogLevel level, std::string_view message) const {
  if (!enabled(level)) return;
  // One write per line so concurrent invocations do not interleave.
  std::string line = "crio-credential-provider: ";
  line += Name(level);
  line += ": ";
  line += message;
  line += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (syslog_)
    ::syslog(Priority(level), "%.*s", static_cast<int>(message.size()),
             message.data());
}
