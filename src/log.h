// One line per step to stderr (kubelet logs it when we fail) and to syslog
// (journald), identifier "crio-credential-provider". Callers pass names,
// never secret values or tokens.
#pragma once

#include <string>
#include <string_view>

enum class LogLevel { kError, kWarn, kInfo, kDebug };

bool parse_log_level(std::string_view text, LogLevel& out);

// `text` made safe to print as (part of) one line: secret names, registry
// keys, images, namespaces and server messages come from tenants and the
// network. Control characters (C0, DEL, C1), line and paragraph separators
// and bidirectional overrides become \n, \t, \xNN or \uNNNN, and each
// byte of invalid UTF-8 \xNN, so nothing from outside can forge or hide a
// line. Every line the binary prints to stderr or syslog goes through it.
std::string log_safe(std::string_view text);

// A value from outside (a server's message, an error text) for a
// `key=value` log line: at most `max` bytes of it, in double quotes, with
// `"` and `\` escaped and then log_safe, so it cannot end its value early
// and forge another key.
std::string log_value(std::string_view text, size_t max = 200);

class Logger {
 public:
  Logger(LogLevel level, bool to_syslog);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void error(std::string_view message) const { log(LogLevel::kError, message); }
  void warn(std::string_view message) const { log(LogLevel::kWarn, message); }
  void info(std::string_view message) const { log(LogLevel::kInfo, message); }
  void debug(std::string_view message) const { log(LogLevel::kDebug, message); }
  void log(LogLevel level, std::string_view message) const;
  bool enabled(LogLevel level) const { return level <= level_; }

 private:
  LogLevel level_;
  bool syslog_;
};
