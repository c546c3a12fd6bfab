#pragma once
// AES-GCM (NIST SP 800-38D) for 128- and 256-bit keys on x86-64 CPUs with VAES, VPCLMULQDQ and
// AVX-512 (Intel Ice Lake and later, AMD Zen 4 and later): four AES blocks and four GHASH
// multiplications per instruction. The same job as OpenSSL's EVP AES-GCM, which AesGcm uses where
// neither this nor aes_gcm_vaes256.hpp runs, in 0.13 µs instead of 0.50 µs for a 1,400-byte
// packet (AES-128, one core of an AMD Zen 5): OpenSSL 3.0's code works 128 bits at a time and each
// message goes through its provider's parameter lookups. strongSwan (its aesni plugin) and Linux
// (aes-gcm-avx10) carry their own AES-GCM for the same reason. What both widths share is in
// gcm_x86.hpp.
//
// The caller owns the expanded key (a kStateBytes buffer, kept in secure memory); these are plain
// functions over it, safe to call from any number of threads on distinct buffers.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ipsecfs::crypto::avx512_gcm {

// Round keys (15 × 16 bytes), then the powers of the hash key (68 × 16 bytes), then the number of
// rounds.
inline constexpr std::size_t kStateBytes = 15 * 16 + 68 * 16 + 16;

// True if this CPU and kernel run the code (the instructions and the zmm state) and it
// reproduces the SP 800-38D test vectors here; checked once.
[[nodiscard]] bool available() noexcept;

// key: 16 or 32 bytes; false for any other size or when !available().
[[nodiscard]] bool expand_key(std::span<const uint8_t> key,
                              std::span<uint8_t, kStateBytes> state) noexcept;

// Encrypts data in place and writes the 16-byte tag. data.size() < 2^32 * 16 - 32 by the spec;
// anything above 2^32 bytes is refused.
[[nodiscard]] bool seal(std::span<const uint8_t, kStateBytes> state,
                        std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                        std::span<uint8_t> data, std::span<uint8_t, 16> tag) noexcept;

// Checks the tag first, in constant time, and decrypts data in place only if it matches;
// otherwise data is left as it came (ciphertext) and false returned.
[[nodiscard]] bool open(std::span<const uint8_t, kStateBytes> state,
                        std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                        std::span<uint8_t> data, std::span<const uint8_t, 16> tag) noexcept;

}  // namespace ipsecfs::crypto::avx512_gcm
