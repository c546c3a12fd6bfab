#pragma once
// AES-GCM with a 96-bit nonce and a 16-byte tag (NIST SP 800-38D), keyed once; per message only
// the nonce is set. The ESP suite (RFC 4106) is built on it. Not thread-safe: one owner thread.
// Three implementations behind one interface, for 128- and 256-bit keys the fastest the CPU runs:
// our VAES code on 512-bit vectors (aes_gcm_avx512.hpp), on 256-bit vectors (aes_gcm_vaes256.hpp),
// else OpenSSL's EVP, which also takes AES-192. The environment can ask for one:
// IPSECFS_AES_GCM=openssl, or =vaes256 (where AVX-512 would be chosen).

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "core/result.hpp"
#include "netpath/crypto/evp.hpp"
#include "netpath/crypto/secure_key.hpp"

namespace ipsecfs::crypto {

enum class GcmBackend { openssl, avx512, vaes256 };

class AesGcm {
  public:
    static constexpr std::size_t kNonceBytes = 12;
    static constexpr std::size_t kTagBytes = 16;

    // key: 16, 24 or 32 bytes; the fastest backend this machine has.
    static Result<AesGcm> create(std::span<const uint8_t> key);
    // Exactly this backend; an error if it cannot take the key here.
    static Result<AesGcm> create(std::span<const uint8_t> key, GcmBackend backend);

    GcmBackend backend() const noexcept { return backend_; }

    // Encrypts data in place.
    [[nodiscard]] bool seal(std::span<const uint8_t, kNonceBytes> nonce,
                            std::span<const uint8_t> aad, std::span<uint8_t> data,
                            std::span<uint8_t, kTagBytes> tag) noexcept;
    // Decrypts data in place; false if the tag does not match, and then data is wiped (whatever
    // the backend left there) so no unauthenticated plaintext is left behind.
    [[nodiscard]] bool open(std::span<const uint8_t, kNonceBytes> nonce,
                            std::span<const uint8_t> aad, std::span<uint8_t> data,
                            std::span<const uint8_t, kTagBytes> tag) noexcept;

  private:
    static Result<AesGcm> create_openssl(std::span<const uint8_t> key);
    explicit AesGcm(EvpCipherCtxPtr ctx) noexcept : ctx_(std::move(ctx)) {}
    AesGcm(GcmBackend backend, SecureKey expanded) noexcept
        : backend_(backend), expanded_(std::move(expanded)) {}

    GcmBackend backend_ = GcmBackend::openssl;
    // OpenSSL backend.
    EvpCipherCtxPtr ctx_;
    // avx512 and vaes256 backends (the same layout): round keys and powers of the hash key, in
    // secure memory.
    SecureKey expanded_;
};

}  // namespace ipsecfs::crypto
