#pragma once
// Key bytes in libsodium secure memory: guard pages around the buffer, mlock'ed so it never
// reaches swap, zeroed when freed. Keys live here from the SADB to the cipher objects.

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.hpp"

namespace ipsecfs::crypto {

// Initialises libsodium once (thread-safe, idempotent). False if it cannot be used.
[[nodiscard]] bool init();

class SecureKey {
  public:
    SecureKey() noexcept = default;
    ~SecureKey();
    SecureKey(SecureKey&& other) noexcept;
    SecureKey& operator=(SecureKey&& other) noexcept;
    SecureKey(const SecureKey&) = delete;
    SecureKey& operator=(const SecureKey&) = delete;

    // A zero-filled key of n bytes.
    static Result<SecureKey> allocate(std::size_t n);
    static Result<SecureKey> copy_of(std::span<const uint8_t> bytes);

    std::span<uint8_t> bytes() noexcept { return {data_, size_}; }
    std::span<const uint8_t> bytes() const noexcept { return {data_, size_}; }
    uint8_t* data() noexcept { return data_; }
    const uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

  private:
    void release() noexcept;

    uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// Constant-time equality of two byte strings (the lengths are not secret).
[[nodiscard]] bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept;

}  // namespace ipsecfs::crypto
