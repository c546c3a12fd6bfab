#pragma once
// AES-GCM with a 96-bit nonce and a 16-byte tag (NIST SP 800-38D), keyed once; per message only
// the nonce is set. The ESP suite (RFC 4106) is built on it. Not thread-safe: one owner thread.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "core/result.hpp"
#include "netpath/crypto/evp.hpp"

namespace ipsecfs::crypto {

class AesGcm {
  public:
    static constexpr std::size_t kNonceBytes = 12;
    static constexpr std::size_t kTagBytes = 16;

    // key: 16, 24 or 32 bytes.
    static Result<AesGcm> create(std::span<const uint8_t> key);

    // Encrypts data in place.
    [[nodiscard]] bool seal(std::span<const uint8_t, kNonceBytes> nonce,
                            std::span<const uint8_t> aad, std::span<uint8_t> data,
                            std::span<uint8_t, kTagBytes> tag) noexcept;
    // Decrypts data in place; false if the tag does not match, and then data is wiped so no
    // unauthenticated plaintext is left behind.
    [[nodiscard]] bool open(std::span<const uint8_t, kNonceBytes> nonce,
                            std::span<const uint8_t> aad, std::span<uint8_t> data,
                            std::span<const uint8_t, kTagBytes> tag) noexcept;

  private:
    AesGcm(EvpCipherCtxPtr enc, EvpCipherCtxPtr dec) noexcept
        : enc_(std::move(enc)), dec_(std::move(dec)) {}

    EvpCipherCtxPtr enc_;
    EvpCipherCtxPtr dec_;
};

}  // namespace ipsecfs::crypto
