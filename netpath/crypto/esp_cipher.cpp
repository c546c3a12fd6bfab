#include "netpath/crypto/esp_cipher.hpp"

#include <string>

#include "netpath/crypto/esp_cipher_impl.hpp"
#include "netpath/crypto/hmac.hpp"
#include "netpath/crypto/secure_key.hpp"

namespace ipsecfs::crypto {
namespace {

constexpr std::size_t kSaltBytes = 4;

const char* aes_cbc_name(uint16_t bits) {
    switch (bits) {
        case 128:
            return "AES-128-CBC";
        case 192:
            return "AES-192-CBC";
        case 256:
            return "AES-256-CBC";
        default:
            return nullptr;
    }
}

std::string with_bits(const Transform& t) {
    return transform_display_name(t) + " with a " + std::to_string(t.enc_key_bits) + "-bit key";
}

Error wrong_length(const std::string& who, std::size_t expected, const char* what,
                   std::size_t got) {
    return fail(who + " needs a " + std::to_string(expected) + "-byte " + what + ", got " +
                std::to_string(got));
}

Result<void> check_auth_key(const Transform& t, std::span<const uint8_t> auth_key) {
    if (t.auth == AuthAlg::none) {
        if (auth_key.empty()) return {};
        return fail(transform_display_name(t) + " takes no authentication key, got " +
                    std::to_string(auth_key.size()) + " bytes");
    }
    const std::size_t expected = hmac_key_bytes(t.auth);
    if (auth_key.size() != expected) {
        return wrong_length(transform_display_name(t), expected, "authentication key",
                            auth_key.size());
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<EspCipher>> make_esp_cipher(const Transform& t,
                                                   std::span<const uint8_t> enc_key,
                                                   std::span<const uint8_t> auth_key) {
    if (!init()) return fail("libsodium failed to initialise");
    if (t.proto != SaProto::esp) return fail("not an ESP transform");
    const std::string name = transform_display_name(t);
    if (t.is_aead() && t.auth != AuthAlg::none) {
        return fail(name + " authenticates by itself and takes no separate HMAC");
    }
    if (t.enc == EncAlg::null && t.auth == AuthAlg::none) {
        return fail("ESP with NULL encryption needs an authentication algorithm (RFC 4303 §3.2)");
    }
    if (auto auth_ok = check_auth_key(t, auth_key); !auth_ok)
        return std::move(auth_ok).take_error();

    switch (t.enc) {
        case EncAlg::aes_gcm16: {
            if (t.enc_key_bits != 128 && t.enc_key_bits != 192 && t.enc_key_bits != 256) {
                return fail(name + " key size must be 128, 192 or 256 bits, got " +
                            std::to_string(t.enc_key_bits));
            }
            const std::size_t expected = t.enc_key_bits / 8u + kSaltBytes;
            if (enc_key.size() != expected) {
                return wrong_length(with_bits(t), expected, "encryption key (key + 4-byte salt)",
                                    enc_key.size());
            }
            return make_aes_gcm16_cipher(enc_key);
        }
        case EncAlg::chacha20_poly1305: {
            if (t.enc_key_bits != 0 && t.enc_key_bits != 256) {
                return fail(name + " key size must be 256 bits, got " +
                            std::to_string(t.enc_key_bits));
            }
            if (enc_key.size() != 32 + kSaltBytes) {
                return wrong_length(name, 32 + kSaltBytes, "encryption key (key + 4-byte salt)",
                                    enc_key.size());
            }
            return make_chacha20_poly1305_cipher(enc_key);
        }
        case EncAlg::aes_cbc: {
            const char* cbc = aes_cbc_name(t.enc_key_bits);
            if (cbc == nullptr) {
                return fail(name + " key size must be 128, 192 or 256 bits, got " +
                            std::to_string(t.enc_key_bits));
            }
            if (enc_key.size() != t.enc_key_bits / 8u) {
                return wrong_length(with_bits(t), t.enc_key_bits / 8u, "encryption key",
                                    enc_key.size());
            }
            return make_cbc_hmac_cipher(cbc, enc_key, t.auth, auth_key);
        }
        case EncAlg::des3_cbc: {
            if (t.enc_key_bits != 0 && t.enc_key_bits != 192) {
                return fail(name + " key size must be 192 bits, got " +
                            std::to_string(t.enc_key_bits));
            }
            if (enc_key.size() != 24) {
                return wrong_length(name, 24, "encryption key", enc_key.size());
            }
            return make_cbc_hmac_cipher("DES-EDE3-CBC", enc_key, t.auth, auth_key);
        }
        case EncAlg::null: {
            if (!enc_key.empty()) {
                return fail(name + " takes no encryption key, got " +
                            std::to_string(enc_key.size()) + " bytes");
            }
            return make_cbc_hmac_cipher(nullptr, enc_key, t.auth, auth_key);
        }
        case EncAlg::none:
            break;
    }
    return fail("ESP needs an encryption algorithm (or NULL)");
}

}  // namespace ipsecfs::crypto
