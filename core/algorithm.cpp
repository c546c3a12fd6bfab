#include "core/algorithm.hpp"

#include <array>

namespace ipsecfs {
namespace {

struct NamedTransform {
    std::string_view name;
    Transform transform;
};

constexpr Transform esp(EncAlg e, uint16_t bits, AuthAlg a) {
    return Transform{SaProto::esp, e, a, CompAlg::none, bits};
}

// The first name of each transform is the canonical one (transform_option_name).
constexpr std::array kEspNames = {
    NamedTransform{"3des", esp(EncAlg::des3_cbc, 192, AuthAlg::none)},
    NamedTransform{"3des-md5-96", esp(EncAlg::des3_cbc, 192, AuthAlg::hmac_md5_96)},
    NamedTransform{"3des-sha1-96", esp(EncAlg::des3_cbc, 192, AuthAlg::hmac_sha1_96)},
    NamedTransform{"aes128-sha1-96", esp(EncAlg::aes_cbc, 128, AuthAlg::hmac_sha1_96)},
    NamedTransform{"aes-sha1-96", esp(EncAlg::aes_cbc, 128, AuthAlg::hmac_sha1_96)},
    NamedTransform{"aes192-sha1-96", esp(EncAlg::aes_cbc, 192, AuthAlg::hmac_sha1_96)},
    NamedTransform{"aes256-sha1-96", esp(EncAlg::aes_cbc, 256, AuthAlg::hmac_sha1_96)},
    NamedTransform{"aes128-sha2_256-128", esp(EncAlg::aes_cbc, 128, AuthAlg::hmac_sha256_128)},
    NamedTransform{"aes-sha2_256-128", esp(EncAlg::aes_cbc, 128, AuthAlg::hmac_sha256_128)},
    NamedTransform{"aes256-sha2_256-128", esp(EncAlg::aes_cbc, 256, AuthAlg::hmac_sha256_128)},
    NamedTransform{"null-sha1-96", esp(EncAlg::null, 0, AuthAlg::hmac_sha1_96)},
    NamedTransform{"aes128gcm16", esp(EncAlg::aes_gcm16, 128, AuthAlg::none)},
    NamedTransform{"aes256gcm16", esp(EncAlg::aes_gcm16, 256, AuthAlg::none)},
    NamedTransform{"chacha20poly1305", esp(EncAlg::chacha20_poly1305, 256, AuthAlg::none)},
};

constexpr std::array kAhNames = {
    NamedTransform{"hmac-md5-96",
                   {SaProto::ah, EncAlg::none, AuthAlg::hmac_md5_96, CompAlg::none, 0}},
    NamedTransform{"hmac-sha1-96",
                   {SaProto::ah, EncAlg::none, AuthAlg::hmac_sha1_96, CompAlg::none, 0}},
    NamedTransform{"hmac-sha2_256-128",
                   {SaProto::ah, EncAlg::none, AuthAlg::hmac_sha256_128, CompAlg::none, 0}},
};

template <std::size_t N>
Result<Transform> find_name(const std::array<NamedTransform, N>& table, std::string_view name,
                            std::string_view option) {
    for (const auto& entry : table) {
        if (entry.name == name) return entry.transform;
    }
    std::string known;
    for (const auto& entry : table) {
        if (!known.empty()) known += ", ";
        known += entry.name;
    }
    return fail("unknown " + std::string(option) + " algorithm '" + std::string(name) +
                "' (known: " + known + ")");
}

unsigned hash_bits(AuthAlg a) {
    switch (a) {
        case AuthAlg::hmac_md5_96:
            return 128;
        case AuthAlg::hmac_sha1_96:
            return 160;
        case AuthAlg::hmac_sha256_128:
            return 256;
        case AuthAlg::none:
            break;
    }
    return 0;
}

}  // namespace

Result<Transform> parse_esp_name(std::string_view name) {
    return find_name(kEspNames, name, "--esp");
}
Result<Transform> parse_ah_name(std::string_view name) {
    return find_name(kAhNames, name, "--ah");
}

Result<Transform> parse_comp_name(std::string_view name) {
    if (name == "deflate")
        return Transform{SaProto::comp, EncAlg::none, AuthAlg::none, CompAlg::deflate, 0};
    return fail("unknown --comp algorithm '" + std::string(name) + "' (known: deflate)");
}

std::string transform_option_name(const Transform& t) {
    if (t.proto == SaProto::tun) return "ip4";
    if (t.proto == SaProto::comp) return "deflate";
    const auto& table = t.proto == SaProto::ah ? std::span<const NamedTransform>(kAhNames)
                                               : std::span<const NamedTransform>(kEspNames);
    for (const auto& entry : table) {
        if (entry.transform == t) return std::string(entry.name);
    }
    return "unknown";
}

std::string transform_display_name(const Transform& t) {
    std::string name;
    switch (t.proto) {
        case SaProto::tun:
            return "IPIP";
        case SaProto::comp:
            return t.comp == CompAlg::deflate ? "COMP_DEFLATE" : "COMP_UNKNOWN_comp";
        case SaProto::ah:
            name = "AH";
            break;
        case SaProto::esp:
            name = "ESP";
            break;
    }
    switch (t.enc) {
        case EncAlg::none:
            break;
        case EncAlg::des3_cbc:
            name += "_3DES";
            break;
        case EncAlg::aes_cbc:
            name += "_AES";
            break;
        case EncAlg::null:
            name += "_NULL";
            break;
        case EncAlg::aes_gcm16:
            name += "_AES_GCM_16";
            break;
        case EncAlg::chacha20_poly1305:
            name += "_CHACHA20_POLY1305";
            break;
    }
    switch (t.auth) {
        case AuthAlg::none:
            break;
        case AuthAlg::hmac_md5_96:
            name += "_HMAC_MD5";
            break;
        case AuthAlg::hmac_sha1_96:
            name += "_HMAC_SHA1";
            break;
        case AuthAlg::hmac_sha256_128:
            name += "_HMAC_SHA2_256";
            break;
    }
    return name;
}

std::size_t salt_bytes(const Transform& t) {
    return t.is_aead() ? 4 : 0;
}

std::size_t enc_key_bytes(const Transform& t) {
    if (t.proto != SaProto::esp || t.enc == EncAlg::null || t.enc == EncAlg::none) return 0;
    return t.enc_key_bits / 8u + salt_bytes(t);
}

std::size_t auth_key_bytes(const Transform& t) {
    return hash_bits(t.auth) / 8u;
}

unsigned alen_bits(const Transform& t) {
    return t.is_aead() ? 128 : hash_bits(t.auth);
}
unsigned aklen_bits(const Transform& t) {
    return hash_bits(t.auth);
}
unsigned eklen_bits(const Transform& t) {
    if (t.proto != SaProto::esp || t.enc == EncAlg::null) return 0;
    return t.enc_key_bits;
}

std::size_t esp_iv_bytes(EncAlg e) {
    switch (e) {
        case EncAlg::aes_cbc:
            return 16;
        case EncAlg::des3_cbc:
        case EncAlg::aes_gcm16:
        case EncAlg::chacha20_poly1305:
            return 8;
        case EncAlg::null:
        case EncAlg::none:
            break;
    }
    return 0;
}

std::size_t esp_block_bytes(EncAlg e) {
    switch (e) {
        case EncAlg::aes_cbc:
            return 16;
        case EncAlg::des3_cbc:
            return 8;
        default:
            return 4;
    }
}

std::size_t icv_bytes(const Transform& t) {
    if (t.is_aead()) return 16;
    switch (t.auth) {
        case AuthAlg::hmac_md5_96:
        case AuthAlg::hmac_sha1_96:
            return 12;
        case AuthAlg::hmac_sha256_128:
            return 16;
        case AuthAlg::none:
            break;
    }
    return 0;
}

std::string_view proto_name(SaProto p) {
    switch (p) {
        case SaProto::tun:
            return "tun";
        case SaProto::esp:
            return "esp";
        case SaProto::ah:
            return "ah";
        case SaProto::comp:
            return "comp";
    }
    return "unk";
}

Result<SaProto> parse_proto_name(std::string_view name) {
    if (name == "tun") return SaProto::tun;
    if (name == "esp") return SaProto::esp;
    if (name == "ah") return SaProto::ah;
    if (name == "comp") return SaProto::comp;
    return fail("unknown protocol '" + std::string(name) + "' (known: ah, esp, comp, tun)");
}

}  // namespace ipsecfs
