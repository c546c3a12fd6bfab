#include <sodium.h>

#include <array>
#include <cstring>
#include <string>

#include "netpath/byte_order.hpp"
#include "netpath/crypto/aes_gcm.hpp"
#include "netpath/crypto/esp_cipher_impl.hpp"
#include "netpath/crypto/secure_key.hpp"

namespace ipsecfs::crypto {
namespace {

constexpr std::size_t kSaltBytes = 4;
constexpr std::size_t kIvBytes = 8;
constexpr std::size_t kNonceBytes = kSaltBytes + kIvBytes;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kBlockBytes = 4;

// RFC 4106 §5, RFC 7634 §2.1: AAD = SPI || 32-bit seq, or with ESN SPI || seq_hi || seq_lo.
struct Aad {
    std::array<uint8_t, 12> bytes{};
    std::size_t size = 8;

    Aad(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn) {
        std::memcpy(bytes.data(), esp_header.data(), 4);
        if (esn) {
            put_be32(bytes.data() + 4, static_cast<uint32_t>(seq >> 32));
            std::memcpy(bytes.data() + 8, esp_header.data() + 4, 4);
            size = 12;
        } else {
            std::memcpy(bytes.data() + 4, esp_header.data() + 4, 4);
        }
    }
    std::span<const uint8_t> span() const { return {bytes.data(), size}; }
};

// The 8-byte IV (RFC 4106 §3.1, RFC 7634 §2) only has to be unique per key; we send the 64-bit
// sequence number, which never repeats under one key (not even across restarts), so no nonce
// is ever reused and no random bytes are needed.
class AeadEspCipher : public EspCipher {
  public:
    std::size_t iv_bytes() const final { return kIvBytes; }
    std::size_t block_bytes() const final { return kBlockBytes; }
    std::size_t icv_bytes() const final { return kTagBytes; }

    bool seal(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn, std::span<uint8_t> iv,
              std::span<uint8_t> payload, std::span<uint8_t> icv) final {
        if (iv.size() != kIvBytes || icv.size() != kTagBytes) return false;
        if (!take_test_iv(iv)) {
            put_be32(iv.data(), static_cast<uint32_t>(seq >> 32));
            put_be32(iv.data() + 4, static_cast<uint32_t>(seq));
        }
        const Aad aad(esp_header, seq, esn);
        return seal_raw(nonce(iv), aad.span(), payload, icv.first<kTagBytes>());
    }

    bool open(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn,
              std::span<const uint8_t> iv, std::span<uint8_t> payload,
              std::span<const uint8_t> icv) final {
        if (iv.size() != kIvBytes || icv.size() != kTagBytes) return false;
        const Aad aad(esp_header, seq, esn);
        return open_raw(nonce(iv), aad.span(), payload, icv.first<kTagBytes>());
    }

  protected:
    explicit AeadEspCipher(SecureKey salt) noexcept : salt_(std::move(salt)) {}

    using Nonce = std::array<uint8_t, kNonceBytes>;
    virtual bool seal_raw(const Nonce& nonce, std::span<const uint8_t> aad, std::span<uint8_t> data,
                          std::span<uint8_t, kTagBytes> tag) = 0;
    virtual bool open_raw(const Nonce& nonce, std::span<const uint8_t> aad, std::span<uint8_t> data,
                          std::span<const uint8_t, kTagBytes> tag) = 0;

  private:
    // RFC 4106 §4, RFC 7634 §2: nonce = salt (from the key material) || IV (from the packet).
    Nonce nonce(std::span<const uint8_t> iv) const noexcept {
        Nonce n{};
        std::memcpy(n.data(), salt_.data(), kSaltBytes);
        std::memcpy(n.data() + kSaltBytes, iv.data(), kIvBytes);
        return n;
    }

    SecureKey salt_;
};

class AesGcm16Cipher final : public AeadEspCipher {
  public:
    AesGcm16Cipher(AesGcm gcm, SecureKey salt) noexcept
        : AeadEspCipher(std::move(salt)), gcm_(std::move(gcm)) {}

  private:
    bool seal_raw(const Nonce& nonce, std::span<const uint8_t> aad, std::span<uint8_t> data,
                  std::span<uint8_t, kTagBytes> tag) override {
        return gcm_.seal(nonce, aad, data, tag);
    }
    bool open_raw(const Nonce& nonce, std::span<const uint8_t> aad, std::span<uint8_t> data,
                  std::span<const uint8_t, kTagBytes> tag) override {
        return gcm_.open(nonce, aad, data, tag);
    }

    AesGcm gcm_;
};

class ChaCha20Poly1305Cipher final : public AeadEspCipher {
  public:
    ChaCha20Poly1305Cipher(SecureKey key, SecureKey salt) noexcept
        : AeadEspCipher(std::move(salt)), key_(std::move(key)) {}

  private:
    bool seal_raw(const Nonce& nonce, std::span<const uint8_t> aad, std::span<uint8_t> data,
                  std::span<uint8_t, kTagBytes> tag) override {
        unsigned long long tag_len = 0;
        return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                   data.data(), tag.data(), &tag_len, data.data(), data.size(), aad.data(),
                   aad.size(), nullptr, nonce.data(), key_.data()) == 0 &&
               tag_len == kTagBytes;
    }
    // libsodium checks the tag (in constant time) before it decrypts anything.
    bool open_raw(const Nonce& nonce, std::span<const uint8_t> aad, std::span<uint8_t> data,
                  std::span<const uint8_t, kTagBytes> tag) override {
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                   data.data(), nullptr, data.data(), data.size(), tag.data(), aad.data(),
                   aad.size(), nonce.data(), key_.data()) == 0;
    }

    SecureKey key_;
};

Result<SecureKey> salt_of(std::span<const uint8_t> key_and_salt) {
    return SecureKey::copy_of(key_and_salt.last(kSaltBytes));
}

}  // namespace

Result<std::unique_ptr<EspCipher>> make_aes_gcm16_cipher(std::span<const uint8_t> key_and_salt) {
    if (key_and_salt.size() <= kSaltBytes) return fail("AES-GCM key too short");
    auto gcm = AesGcm::create(key_and_salt.first(key_and_salt.size() - kSaltBytes));
    if (!gcm) return std::move(gcm).take_error();
    auto salt = salt_of(key_and_salt);
    if (!salt) return std::move(salt).take_error();
    return std::unique_ptr<EspCipher>(
        std::make_unique<AesGcm16Cipher>(std::move(*gcm), std::move(*salt)));
}

Result<std::unique_ptr<EspCipher>> make_chacha20_poly1305_cipher(
    std::span<const uint8_t> key_and_salt) {
    constexpr std::size_t kKeyBytes = crypto_aead_chacha20poly1305_ietf_KEYBYTES;
    if (key_and_salt.size() != kKeyBytes + kSaltBytes) {
        return fail("ChaCha20-Poly1305 needs a " + std::to_string(kKeyBytes + kSaltBytes) +
                    "-byte key");
    }
    auto key = SecureKey::copy_of(key_and_salt.first(kKeyBytes));
    if (!key) return std::move(key).take_error();
    auto salt = salt_of(key_and_salt);
    if (!salt) return std::move(salt).take_error();
    return std::unique_ptr<EspCipher>(
        std::make_unique<ChaCha20Poly1305Cipher>(std::move(*key), std::move(*salt)));
}

}  // namespace ipsecfs::crypto
