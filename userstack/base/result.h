// Result<T>: a value, or an errno with a message saying what failed and what to do about it.
// For the control path (setup, attach, netlink); the per-packet path uses counters instead.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace xdptcp {

struct Error {
  int code = 0;         // errno value
  std::string message;  // for the user: what failed, and the fix when there is one

  // "message: strerror(code)"
  std::string describe() const { return code != 0 ? message + ": " + std::strerror(code) : message; }
};

template <typename T = void>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

// Error{errno, msg} from the current errno.
inline Error errno_error(std::string message) {
  return Error{errno, std::move(message)};
}

}  // namespace xdptcp
