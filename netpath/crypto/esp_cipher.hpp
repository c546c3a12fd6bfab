#pragma once
// The cryptographic transform of one ESP SA (RFC 4303 §3.3.2, §3.4.2), independent of packets
// and sockets: AES-GCM-16 (RFC 4106), ChaCha20-Poly1305 (RFC 7634), AES-CBC (RFC 3602) and
// 3DES-CBC (RFC 2451) with HMAC-MD5-96 / SHA1-96 / SHA2-256-128 or none, NULL (RFC 2410) with
// HMAC. The key schedule is done once at construction; per packet only the IV/nonce changes.
//
// Not thread-safe: each SA's cipher is used by its single owner thread only.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/algorithm.hpp"
#include "core/result.hpp"

namespace ipsecfs::crypto {

class EspCipher {
  public:
    virtual ~EspCipher() = default;

    // On the wire: 8 (3DES, GCM, ChaCha), 16 (AES-CBC), 0 (NULL).
    virtual std::size_t iv_bytes() const = 0;
    // Padding alignment: 8 (3DES), 16 (AES-CBC), 4 (GCM, ChaCha, NULL).
    virtual std::size_t block_bytes() const = 0;
    // 12 (HMAC-MD5-96, HMAC-SHA1-96), 16 (HMAC-SHA2-256-128, AEAD), 0 (3DES alone).
    virtual std::size_t icv_bytes() const = 0;

    // esp_header = SPI || low 32 bits of seq as on the wire; seq = the full 64-bit number; esn
    // puts its high 32 bits into the AAD / ICV (RFC 4303 §2.2.1, RFC 4106 §5, RFC 7634 §2.1).
    // seal writes the IV (iv_bytes), encrypts payload in place (already padded to block_bytes)
    // and writes the ICV (icv_bytes). open verifies the ICV in constant time first, then
    // decrypts in place; false means ICV mismatch (or spans of the wrong size).
    [[nodiscard]] virtual bool seal(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn,
                                    std::span<uint8_t> iv, std::span<uint8_t> payload,
                                    std::span<uint8_t> icv) = 0;
    [[nodiscard]] virtual bool open(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn,
                                    std::span<const uint8_t> iv, std::span<uint8_t> payload,
                                    std::span<const uint8_t> icv) = 0;

    // Test only: the next seal writes this IV instead of a fresh random one (CBC) or the
    // sequence number (AEAD). Ignored unless it is iv_bytes() long.
    void set_next_iv_for_test(std::span<const uint8_t> iv) noexcept {
        if (iv.size() > test_iv_.size()) return;
        std::copy(iv.begin(), iv.end(), test_iv_.begin());
        test_iv_len_ = iv.size();
        test_iv_pending_ = true;
    }

  protected:
    bool take_test_iv(std::span<uint8_t> iv) noexcept {
        if (!test_iv_pending_) return false;
        test_iv_pending_ = false;
        if (test_iv_len_ != iv.size()) return false;
        std::copy_n(test_iv_.begin(), iv.size(), iv.begin());
        return true;
    }

  private:
    std::array<uint8_t, 16> test_iv_{};
    std::size_t test_iv_len_ = 0;
    bool test_iv_pending_ = false;
};

// Checks the key lengths against t (AEAD keys end with their 4-byte salt; errors name the
// expected length) and sets up the key schedule.
Result<std::unique_ptr<EspCipher>> make_esp_cipher(const Transform& t,
                                                   std::span<const uint8_t> enc_key,
                                                   std::span<const uint8_t> auth_key);

}  // namespace ipsecfs::crypto
