#include <catch2/catch.hpp>

#include <string>

#include "core/algorithm.hpp"

namespace ipsecfs {
namespace {

struct EspRow {
    const char* name;
    const char* display;
    std::size_t enc_key_bytes;
    std::size_t auth_key_bytes;
    unsigned alen, aklen, eklen;
    std::size_t iv, icv, block;
};

// Every --esp name of DESIGN.md with what ipsec_spi shows and what the user must type.
constexpr EspRow kEsp[] = {
    {"3des", "ESP_3DES", 24, 0, 0, 0, 192, 8, 0, 8},
    {"3des-md5-96", "ESP_3DES_HMAC_MD5", 24, 16, 128, 128, 192, 8, 12, 8},
    {"3des-sha1-96", "ESP_3DES_HMAC_SHA1", 24, 20, 160, 160, 192, 8, 12, 8},
    {"aes128-sha1-96", "ESP_AES_HMAC_SHA1", 16, 20, 160, 160, 128, 16, 12, 16},
    {"aes-sha1-96", "ESP_AES_HMAC_SHA1", 16, 20, 160, 160, 128, 16, 12, 16},
    {"aes192-sha1-96", "ESP_AES_HMAC_SHA1", 24, 20, 160, 160, 192, 16, 12, 16},
    {"aes256-sha1-96", "ESP_AES_HMAC_SHA1", 32, 20, 160, 160, 256, 16, 12, 16},
    {"aes128-sha2_256-128", "ESP_AES_HMAC_SHA2_256", 16, 32, 256, 256, 128, 16, 16, 16},
    {"aes-sha2_256-128", "ESP_AES_HMAC_SHA2_256", 16, 32, 256, 256, 128, 16, 16, 16},
    {"aes256-sha2_256-128", "ESP_AES_HMAC_SHA2_256", 32, 32, 256, 256, 256, 16, 16, 16},
    {"null-sha1-96", "ESP_NULL_HMAC_SHA1", 0, 20, 160, 160, 0, 0, 12, 4},
    {"aes128gcm16", "ESP_AES_GCM_16", 20, 0, 128, 0, 128, 8, 16, 4},
    {"aes256gcm16", "ESP_AES_GCM_16", 36, 0, 128, 0, 256, 8, 16, 4},
    {"chacha20poly1305", "ESP_CHACHA20_POLY1305", 36, 0, 128, 0, 256, 8, 16, 4},
};

}  // namespace

TEST_CASE("every --esp name has the documented lengths and display name", "[core][algorithm]") {
    for (const EspRow& row : kEsp) {
        INFO(row.name);
        auto t = parse_esp_name(row.name);
        REQUIRE(t.ok());
        CHECK(t->proto == SaProto::esp);
        CHECK(transform_display_name(*t) == row.display);
        CHECK(enc_key_bytes(*t) == row.enc_key_bytes);
        CHECK(auth_key_bytes(*t) == row.auth_key_bytes);
        CHECK(alen_bits(*t) == row.alen);
        CHECK(aklen_bits(*t) == row.aklen);
        CHECK(eklen_bits(*t) == row.eklen);
        CHECK(esp_iv_bytes(t->enc) == row.iv);
        CHECK(icv_bytes(*t) == row.icv);
        CHECK(esp_block_bytes(t->enc) == row.block);
        CHECK(salt_bytes(*t) == (t->is_aead() ? 4u : 0u));
        // the canonical option name parses back to the same transform
        auto again = parse_esp_name(transform_option_name(*t));
        REQUIRE(again.ok());
        CHECK(*again == *t);
    }
}

TEST_CASE("AEAD transforms", "[core][algorithm]") {
    CHECK(parse_esp_name("aes128gcm16")->is_aead());
    CHECK(parse_esp_name("aes256gcm16")->is_aead());
    CHECK(parse_esp_name("chacha20poly1305")->is_aead());
    CHECK_FALSE(parse_esp_name("aes128-sha1-96")->is_aead());
    CHECK_FALSE(parse_esp_name("null-sha1-96")->is_aead());
    // eklen is the cipher key without its salt
    CHECK(eklen_bits(*parse_esp_name("aes128gcm16")) == 128);
    CHECK(enc_key_bytes(*parse_esp_name("aes128gcm16")) * 8 == 128 + 32);
}

TEST_CASE("every --ah name has the documented lengths and display name", "[core][algorithm]") {
    struct Row {
        const char* name;
        const char* display;
        std::size_t key;
        unsigned alen;
        std::size_t icv;
    };
    for (const Row& row : {Row{"hmac-md5-96", "AH_HMAC_MD5", 16, 128, 12},
                           Row{"hmac-sha1-96", "AH_HMAC_SHA1", 20, 160, 12},
                           Row{"hmac-sha2_256-128", "AH_HMAC_SHA2_256", 32, 256, 16}}) {
        INFO(row.name);
        auto t = parse_ah_name(row.name);
        REQUIRE(t.ok());
        CHECK(t->proto == SaProto::ah);
        CHECK(transform_display_name(*t) == row.display);
        CHECK(auth_key_bytes(*t) == row.key);
        CHECK(enc_key_bytes(*t) == 0);
        CHECK(alen_bits(*t) == row.alen);
        CHECK(aklen_bits(*t) == row.key * 8);
        CHECK(eklen_bits(*t) == 0);
        CHECK(icv_bytes(*t) == row.icv);
        CHECK(transform_option_name(*t) == row.name);
    }
}

TEST_CASE("IPCOMP and IPIP transforms", "[core][algorithm]") {
    auto comp = parse_comp_name("deflate");
    REQUIRE(comp.ok());
    CHECK(comp->proto == SaProto::comp);
    CHECK(comp->comp == CompAlg::deflate);
    CHECK(transform_display_name(*comp) == "COMP_DEFLATE");
    CHECK(transform_option_name(*comp) == "deflate");
    CHECK(enc_key_bytes(*comp) == 0);
    CHECK(auth_key_bytes(*comp) == 0);
    CHECK(alen_bits(*comp) == 0);
    CHECK(aklen_bits(*comp) == 0);
    CHECK(eklen_bits(*comp) == 0);

    const Transform tun{SaProto::tun, EncAlg::none, AuthAlg::none, CompAlg::none, 0};
    CHECK(transform_display_name(tun) == "IPIP");
    CHECK(enc_key_bytes(tun) == 0);
    CHECK(auth_key_bytes(tun) == 0);
    CHECK(alen_bits(tun) == 0);
    CHECK(aklen_bits(tun) == 0);
    CHECK(eklen_bits(tun) == 0);
}

TEST_CASE("unknown algorithm names are refused and the known ones listed", "[core][algorithm]") {
    auto esp = parse_esp_name("aes512-sha1-96");
    REQUIRE_FALSE(esp.ok());
    CHECK_THAT(esp.error(), Catch::Contains("--esp") && Catch::Contains("aes512-sha1-96") &&
                                Catch::Contains("3des-md5-96") &&
                                Catch::Contains("chacha20poly1305"));
    CHECK_FALSE(parse_esp_name("").ok());
    CHECK_FALSE(parse_esp_name("AES128GCM16").ok());
    CHECK_FALSE(parse_esp_name("hmac-md5-96").ok());

    auto ah = parse_ah_name("hmac-sha512-256");
    REQUIRE_FALSE(ah.ok());
    CHECK_THAT(ah.error(), Catch::Contains("--ah") && Catch::Contains("hmac-sha512-256") &&
                               Catch::Contains("hmac-md5-96"));
    CHECK_FALSE(parse_ah_name("3des-md5-96").ok());

    auto comp = parse_comp_name("lzs");
    REQUIRE_FALSE(comp.ok());
    CHECK_THAT(comp.error(),
               Catch::Contains("--comp") && Catch::Contains("lzs") && Catch::Contains("deflate"));
}

TEST_CASE("protocol names", "[core][algorithm]") {
    for (SaProto p : {SaProto::tun, SaProto::esp, SaProto::ah, SaProto::comp}) {
        auto back = parse_proto_name(proto_name(p));
        REQUIRE(back.ok());
        CHECK(*back == p);
    }
    CHECK(proto_name(SaProto::tun) == "tun");
    CHECK(proto_name(SaProto::esp) == "esp");
    CHECK(proto_name(SaProto::ah) == "ah");
    CHECK(proto_name(SaProto::comp) == "comp");
    CHECK(static_cast<int>(SaProto::esp) == 50);
    CHECK(static_cast<int>(SaProto::ah) == 51);
    CHECK(static_cast<int>(SaProto::comp) == 108);
    CHECK(static_cast<int>(SaProto::tun) == 4);
    auto bad = parse_proto_name("udp");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error(), Catch::Contains("unknown protocol") && Catch::Contains("udp"));
    CHECK_FALSE(parse_proto_name("ESP").ok());
    CHECK_FALSE(parse_proto_name("").ok());
}

}  // namespace ipsecfs
