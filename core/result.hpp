#pragma once
// Result<T>: a value or one clear, user-facing error line. Used by parsers and the
// control plane; the packet path uses its own small enums (see drop_reason.hpp).

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace ipsecfs {

struct Error {
    std::string message;
};

inline Error fail(std::string message) {
    return Error{std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    // Anything T can be built from (e.g. one alternative of a variant T).
    template <class U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Error>) Result(U&& value)
        : v_(std::in_place_index<0>, std::forward<U>(value)) {}            // NOLINT
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }

    const std::string& error() const { return std::get<1>(v_).message; }
    Error take_error() && { return std::get<1>(std::move(v_)); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error.message)), ok_(false) {}  // NOLINT

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const std::string& error() const { return error_; }
    Error take_error() && { return Error{std::move(error_)}; }

  private:
    std::string error_;
    bool ok_ = true;
};

}  // namespace ipsecfs
