#pragma once
// HMAC (RFC 2104) with the truncations IPsec uses: MD5-96 (RFC 2403), SHA1-96 (RFC 2404),
// SHA2-256-128 (RFC 4868). Keyed once; each message is reset() → update()… → final().
// Not thread-safe: one owner thread per object.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "core/algorithm.hpp"
#include "core/result.hpp"
#include "netpath/crypto/evp.hpp"

namespace ipsecfs::crypto {

class Hmac {
  public:
    AuthAlg alg() const noexcept { return alg_; }
    std::size_t icv_bytes() const noexcept { return icv_bytes_; }
    std::size_t digest_bytes() const noexcept { return digest_bytes_; }

    // Starts a new message under the same key (the key schedule is kept).
    [[nodiscard]] bool reset() noexcept;
    [[nodiscard]] bool update(std::span<const uint8_t> data) noexcept;
    // Writes the first truncated_out.size() bytes of the MAC (icv_bytes() for IPsec, at most
    // digest_bytes()); false if the span is longer or OpenSSL failed. reset() before reuse.
    [[nodiscard]] bool final(std::span<uint8_t> truncated_out) noexcept;

  private:
    friend Result<Hmac> make_hmac_unchecked(AuthAlg alg, std::span<const uint8_t> key);

    Hmac(AuthAlg alg, EvpMacCtxPtr ctx, std::size_t icv, std::size_t digest) noexcept
        : ctx_(std::move(ctx)), alg_(alg), icv_bytes_(icv), digest_bytes_(digest) {}

    EvpMacCtxPtr ctx_;
    AuthAlg alg_;
    std::size_t icv_bytes_;
    std::size_t digest_bytes_;
};

// Key length of an IPsec SA for this algorithm: 16 (MD5), 20 (SHA1), 32 (SHA2-256).
std::size_t hmac_key_bytes(AuthAlg alg) noexcept;

// An HMAC for an SA: the key must be exactly hmac_key_bytes(alg) long.
Result<Hmac> make_hmac(AuthAlg alg, std::span<const uint8_t> key);
// Any non-empty key length, as RFC 2104 allows (known-answer tests, AH keys of other sizes).
Result<Hmac> make_hmac_unchecked(AuthAlg alg, std::span<const uint8_t> key);

}  // namespace ipsecfs::crypto
