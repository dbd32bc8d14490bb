// Errors as values: every fallible function returns Result<T>. Exceptions
// from libraries (nlohmann::json, toml++) are caught where they are called
// and turned into an Error; nothing throws across our own interfaces.
#pragma once

#include <string>
#include <utility>
#include <variant>

struct Error {
  // One line, safe to log: names what failed and, where there is one, the
  // fix. Never holds a secret, token or credential.
  std::string message;
  // What failed, for output that machines read (`resolve --json`), e.g.
  // "registries-syntax"; empty where no caller tells failures apart.
  std::string kind = {};
};

template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

// For functions that return nothing on success.
struct Ok {};
