#pragma once
// The suites behind make_esp_cipher. Key lengths are already checked by the caller.

#include <cstdint>
#include <memory>
#include <span>

#include "core/algorithm.hpp"
#include "core/result.hpp"
#include "netpath/crypto/esp_cipher.hpp"

namespace ipsecfs::crypto {

// key_and_salt: AES key (16/24/32) || 4-byte salt (RFC 4106 §8.1).
Result<std::unique_ptr<EspCipher>> make_aes_gcm16_cipher(std::span<const uint8_t> key_and_salt);
// key_and_salt: 32-byte key || 4-byte salt (RFC 7634 §2).
Result<std::unique_ptr<EspCipher>> make_chacha20_poly1305_cipher(
    std::span<const uint8_t> key_and_salt);
// cbc_name: an OpenSSL CBC cipher ("AES-128-CBC", "DES-EDE3-CBC") or nullptr for NULL
// encryption; auth may be AuthAlg::none.
Result<std::unique_ptr<EspCipher>> make_cbc_hmac_cipher(const char* cbc_name,
                                                        std::span<const uint8_t> enc_key,
                                                        AuthAlg auth,
                                                        std::span<const uint8_t> auth_key);

}  // namespace ipsecfs::crypto
