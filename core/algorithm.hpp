#pragma once
// The algorithm registry: which transforms exist, the names users type (`--esp aes128gcm16`),
// the names ipsec_spi prints (`ESP_AES_GCM_16`), and the key and ICV lengths of each.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ipsecfs {

// The SA's IP protocol, as the SAID names it. Values are IANA protocol numbers.
enum class SaProto : uint8_t { tun = 4, esp = 50, ah = 51, comp = 108 };

enum class EncAlg : uint8_t {
    none,
    des3_cbc,           // RFC 2451, 192-bit key
    aes_cbc,            // RFC 3602, 128/192/256
    null,               // RFC 2410
    aes_gcm16,          // RFC 4106, 16-byte ICV, key + 4-byte salt
    chacha20_poly1305,  // RFC 7634, 256-bit key + 4-byte salt
};

enum class AuthAlg : uint8_t {
    none,
    hmac_md5_96,      // RFC 2403
    hmac_sha1_96,     // RFC 2404
    hmac_sha256_128,  // RFC 4868
};

enum class CompAlg : uint8_t { none, deflate };  // RFC 2394

// What an SA does to a packet. For ESP, enc_key_bits is the cipher key size without salt.
struct Transform {
    SaProto proto = SaProto::esp;
    EncAlg enc = EncAlg::none;
    AuthAlg auth = AuthAlg::none;
    CompAlg comp = CompAlg::none;
    uint16_t enc_key_bits = 0;

    bool is_aead() const { return enc == EncAlg::aes_gcm16 || enc == EncAlg::chacha20_poly1305; }
    bool operator==(const Transform&) const = default;
};

// `--esp NAME`: 3des, 3des-md5-96, 3des-sha1-96, aes[128|192|256]-sha1-96,
// aes[128|256]-sha2_256-128, null-sha1-96, aes[128|256]gcm16, chacha20poly1305.
Result<Transform> parse_esp_name(std::string_view name);
// `--ah NAME`: hmac-md5-96, hmac-sha1-96, hmac-sha2_256-128.
Result<Transform> parse_ah_name(std::string_view name);
// `--comp NAME`: deflate.
Result<Transform> parse_comp_name(std::string_view name);

// The user-facing name that parses back to the same transform (`aes128gcm16`).
std::string transform_option_name(const Transform& t);
// The ipsec_spi transform column without the colon: IPIP, ESP_AES_HMAC_SHA1, ...
std::string transform_display_name(const Transform& t);

// Key material the user must give, in bytes (AEAD keys include their 4-byte salt).
std::size_t enc_key_bytes(const Transform& t);
std::size_t auth_key_bytes(const Transform& t);
// Salt bytes at the end of the encryption key (AEAD only).
std::size_t salt_bytes(const Transform& t);

// ipsec_spi's alen (full hash output bits; 128 for AEAD), aklen (auth key bits),
// eklen (cipher key bits, salt not counted; 3DES 192).
unsigned alen_bits(const Transform& t);
unsigned aklen_bits(const Transform& t);
unsigned eklen_bits(const Transform& t);

// Bytes on the wire per packet.
std::size_t esp_iv_bytes(EncAlg e);         // 8 (3DES, GCM, ChaCha), 16 (AES-CBC), 0 (NULL)
std::size_t esp_block_bytes(EncAlg e);      // padding alignment: 8, 16, or 4 for stream/AEAD/NULL
std::size_t icv_bytes(const Transform& t);  // 12 (HMAC-*-96), 16 (SHA2-256-128, AEAD)

std::string_view proto_name(SaProto p);  // "tun", "esp", "ah", "comp"
Result<SaProto> parse_proto_name(std::string_view name);

}  // namespace ipsecfs
