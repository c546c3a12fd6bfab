#include <array>
#include <climits>
#include <optional>
#include <string>

#include "netpath/crypto/esp_cipher_impl.hpp"
#include "netpath/crypto/evp.hpp"
#include "netpath/crypto/hmac.hpp"
#include "netpath/crypto/iv_source.hpp"
#include "netpath/crypto/secure_key.hpp"

namespace ipsecfs::crypto {
namespace {

constexpr std::size_t kNullBlockBytes = 4;
constexpr std::size_t kMaxIcvBytes = 16;

// Encrypt-then-MAC (RFC 4303 §3.3.2.1, §3.4.4.1): the ICV covers SPI, sequence number, IV and
// ciphertext; with ESN the high 32 bits of the sequence number are appended after the
// ciphertext for the ICV computation only, never sent (RFC 4303 §2.2.1, RFC 4304 §2).
// No cipher contexts: NULL encryption (RFC 2410); no hmac_: no integrity (3DES alone).
class CbcHmacCipher final : public EspCipher {
  public:
    CbcHmacCipher(EvpCipherCtxPtr enc, EvpCipherCtxPtr dec, std::size_t block,
                  std::optional<Hmac> hmac, std::optional<IvSource> ivs) noexcept
        : enc_(std::move(enc)),
          dec_(std::move(dec)),
          block_(block),
          hmac_(std::move(hmac)),
          ivs_(std::move(ivs)) {}

    std::size_t iv_bytes() const override { return enc_ ? block_ : 0; }
    std::size_t block_bytes() const override { return enc_ ? block_ : kNullBlockBytes; }
    std::size_t icv_bytes() const override { return hmac_ ? hmac_->icv_bytes() : 0; }

    bool seal(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn, std::span<uint8_t> iv,
              std::span<uint8_t> payload, std::span<uint8_t> icv) override {
        if (!sizes_ok(iv.size(), payload.size(), icv.size())) return false;
        if (enc_) {
            if (!take_test_iv(iv)) ivs_->fill(iv);
            if (!crypt(enc_.get(), iv, payload, true)) return false;
        }
        return !hmac_ || compute_icv(esp_header, seq, esn, iv, payload, icv);
    }

    bool open(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn,
              std::span<const uint8_t> iv, std::span<uint8_t> payload,
              std::span<const uint8_t> icv) override {
        if (!sizes_ok(iv.size(), payload.size(), icv.size())) return false;
        if (hmac_) {
            std::array<uint8_t, kMaxIcvBytes> expected{};
            const auto mine = std::span(expected).first(icv.size());
            if (!compute_icv(esp_header, seq, esn, iv, payload, mine)) return false;
            if (!ct_equal(mine, icv)) return false;
        }
        return !enc_ || crypt(dec_.get(), iv, payload, false);
    }

  private:
    bool sizes_ok(std::size_t iv, std::size_t payload, std::size_t icv) const noexcept {
        return iv == iv_bytes() && icv == icv_bytes() && payload % block_bytes() == 0 &&
               payload <= static_cast<std::size_t>(INT_MAX);
    }

    bool compute_icv(std::span<const uint8_t, 8> esp_header, uint64_t seq, bool esn,
                     std::span<const uint8_t> iv, std::span<const uint8_t> payload,
                     std::span<uint8_t> icv) noexcept {
        Hmac& h = *hmac_;
        if (!h.reset() || !h.update(esp_header) || !h.update(iv) || !h.update(payload)) {
            return false;
        }
        if (esn) {
            const auto hi = static_cast<uint32_t>(seq >> 32);
            const std::array<uint8_t, 4> seq_hi = {
                static_cast<uint8_t>(hi >> 24), static_cast<uint8_t>(hi >> 16),
                static_cast<uint8_t>(hi >> 8), static_cast<uint8_t>(hi)};
            if (!h.update(seq_hi)) return false;
        }
        return h.final(icv);
    }

    static bool crypt(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> iv, std::span<uint8_t> data,
                      bool encrypt) noexcept {
        if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv.data(), encrypt ? 1 : 0, nullptr) != 1) {
            return false;
        }
        int len = 0;
        if (!data.empty() && (EVP_CipherUpdate(ctx, data.data(), &len, data.data(),
                                               static_cast<int>(data.size())) != 1 ||
                              static_cast<std::size_t>(len) != data.size())) {
            return false;
        }
        std::array<uint8_t, 16> none{};
        return EVP_CipherFinal_ex(ctx, none.data(), &len) == 1 && len == 0;
    }

    EvpCipherCtxPtr enc_;
    EvpCipherCtxPtr dec_;
    std::size_t block_;
    std::optional<Hmac> hmac_;
    std::optional<IvSource> ivs_;
};

}  // namespace

Result<std::unique_ptr<EspCipher>> make_cbc_hmac_cipher(const char* cbc_name,
                                                        std::span<const uint8_t> enc_key,
                                                        AuthAlg auth,
                                                        std::span<const uint8_t> auth_key) {
    EvpCipherCtxPtr enc;
    EvpCipherCtxPtr dec;
    std::size_t block = kNullBlockBytes;
    std::optional<IvSource> ivs;
    if (cbc_name != nullptr) {
        EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, cbc_name, nullptr));
        if (!cipher) return fail(std::string("OpenSSL has no ") + cbc_name);
        if (static_cast<std::size_t>(EVP_CIPHER_get_key_length(cipher.get())) != enc_key.size()) {
            return fail(std::string(cbc_name) + " needs a " +
                        std::to_string(EVP_CIPHER_get_key_length(cipher.get())) +
                        "-byte encryption key, got " + std::to_string(enc_key.size()));
        }
        block = static_cast<std::size_t>(EVP_CIPHER_get_block_size(cipher.get()));
        enc.reset(EVP_CIPHER_CTX_new());
        dec.reset(EVP_CIPHER_CTX_new());
        if (!enc || !dec) return fail("cannot allocate a cipher context");
        if (EVP_EncryptInit_ex2(enc.get(), cipher.get(), enc_key.data(), nullptr, nullptr) != 1 ||
            EVP_DecryptInit_ex2(dec.get(), cipher.get(), enc_key.data(), nullptr, nullptr) != 1 ||
            EVP_CIPHER_CTX_set_padding(enc.get(), 0) != 1 ||
            EVP_CIPHER_CTX_set_padding(dec.get(), 0) != 1) {
            return fail(std::string("OpenSSL cannot key ") + cbc_name);
        }
        auto source = IvSource::create();
        if (!source) return std::move(source).take_error();
        ivs.emplace(std::move(*source));
    }
    std::optional<Hmac> hmac;
    if (auth != AuthAlg::none) {
        auto h = make_hmac(auth, auth_key);
        if (!h) return std::move(h).take_error();
        hmac.emplace(std::move(*h));
    }
    return std::unique_ptr<EspCipher>(std::make_unique<CbcHmacCipher>(
        std::move(enc), std::move(dec), block, std::move(hmac), std::move(ivs)));
}

}  // namespace ipsecfs::crypto
