#pragma once
// AES-GCM (NIST SP 800-38D) for 128- and 256-bit keys on x86-64 CPUs with VAES and VPCLMULQDQ on
// 256-bit vectors but no AVX-512 (AMD Zen 3, Intel Alder Lake and later client cores and the
// E-core Xeons): two AES blocks and two GHASH multiplications per instruction. The same algorithm
// and expanded key as aes_gcm_avx512.hpp, which AesGcm prefers where AVX-512 runs; OpenSSL's EVP
// takes every other CPU.
//
// The caller owns the expanded key (a kStateBytes buffer, kept in secure memory); these are plain
// functions over it, safe to call from any number of threads on distinct buffers.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ipsecfs::crypto::vaes256_gcm {

// Round keys (15 × 16 bytes), then the powers of the hash key (68 × 16 bytes), then the number of
// rounds.
inline constexpr std::size_t kStateBytes = 15 * 16 + 68 * 16 + 16;

// True if this CPU and kernel run the code (the instructions and the ymm state) and it
// reproduces the SP 800-38D test vectors here; checked once.
[[nodiscard]] bool available() noexcept;

// key: 16 or 32 bytes; false for any other size or when !available().
[[nodiscard]] bool expand_key(std::span<const uint8_t> key,
                              std::span<uint8_t, kStateBytes> state) noexcept;

// Encrypts data in place and writes the 16-byte tag; anything above 2^32 bytes is refused.
[[nodiscard]] bool seal(std::span<const uint8_t, kStateBytes> state,
                        std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                        std::span<uint8_t> data, std::span<uint8_t, 16> tag) noexcept;

// Checks the tag first, in constant time, and decrypts data in place only if it matches;
// otherwise data is left as it came (ciphertext) and false returned.
[[nodiscard]] bool open(std::span<const uint8_t, kStateBytes> state,
                        std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                        std::span<uint8_t> data, std::span<const uint8_t, 16> tag) noexcept;

}  // namespace ipsecfs::crypto::vaes256_gcm
