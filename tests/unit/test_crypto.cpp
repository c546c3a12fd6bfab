#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.hpp"
#include "netpath/crypto/aes_gcm.hpp"
#include "netpath/crypto/aes_gcm_avx512.hpp"
#include "netpath/crypto/aes_gcm_vaes256.hpp"
#include "netpath/crypto/esp_cipher.hpp"
#include "netpath/crypto/hmac.hpp"
#include "netpath/crypto/iv_source.hpp"
#include "netpath/crypto/secure_key.hpp"

#include "tests/support/vectors.hpp"

using namespace ipsecfs;
using namespace ipsecfs::crypto;

namespace {

using Bytes = std::vector<uint8_t>;

using ipsecfs::testing::hex;

Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}
Bytes repeat(uint8_t b, std::size_t n) {
    return Bytes(n, b);
}

Bytes counting(uint8_t first, std::size_t n) {
    Bytes out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<uint8_t>(first + i);
    return out;
}

Transform esp_transform(std::string_view name) {
    auto t = parse_esp_name(name);
    REQUIRE(t.ok());
    return *t;
}

// Our own AES-GCMs this CPU runs.
std::vector<GcmBackend> our_gcm_backends() {
    std::vector<GcmBackend> ours;
    if (avx512_gcm::available()) ours.push_back(GcmBackend::avx512);
    if (vaes256_gcm::available()) ours.push_back(GcmBackend::vaes256);
    return ours;
}
std::vector<GcmBackend> gcm_backends() {
    std::vector<GcmBackend> all = our_gcm_backends();
    all.insert(all.begin(), GcmBackend::openssl);
    return all;
}
const char* backend_name(GcmBackend b) {
    switch (b) {
        case GcmBackend::avx512:
            return "avx512";
        case GcmBackend::vaes256:
            return "vaes256";
        case GcmBackend::openssl:
            break;
    }
    return "openssl";
}

struct HmacCase {
    AuthAlg alg;
    Bytes key;
    Bytes data;
    std::string digest;  // hex; shorter than the full output when the RFC gives it truncated
};

}  // namespace

TEST_CASE("crypto::init is idempotent", "[crypto]") {
    REQUIRE(init());
    REQUIRE(init());
}

TEST_CASE("SecureKey owns, moves and compares key bytes", "[crypto]") {
    auto key = SecureKey::copy_of(hex("00112233445566778899aabbccddeeff"));
    REQUIRE(key.ok());
    CHECK(key->size() == 16);
    CHECK(key->bytes()[15] == 0xff);

    SecureKey moved = std::move(*key);
    CHECK(moved.size() == 16);
    CHECK(key->empty());
    CHECK(key->data() == nullptr);

    SecureKey assigned;
    assigned = std::move(moved);
    CHECK(assigned.size() == 16);
    CHECK(moved.empty());
    CHECK(ct_equal(assigned.bytes(), hex("00112233445566778899aabbccddeeff")));
    CHECK_FALSE(ct_equal(assigned.bytes(), hex("00112233445566778899aabbccddeefe")));
    CHECK_FALSE(ct_equal(assigned.bytes(), hex("00112233")));

    auto zero = SecureKey::allocate(32);
    REQUIRE(zero.ok());
    CHECK(ct_equal(zero->bytes(), Bytes(32, 0)));

    auto empty = SecureKey::copy_of({});
    REQUIRE(empty.ok());
    CHECK(empty->empty());
}

TEST_CASE("Hmac known answers: RFC 2202 (MD5, SHA-1) and RFC 4231 (SHA-256)", "[crypto]") {
    const Bytes ascending = counting(0x01, 25);
    const Bytes hash_key_first = text("Test Using Larger Than Block-Size Key - Hash Key First");
    const std::vector<HmacCase> cases = {
        // RFC 2202 §2, HMAC-MD5 test cases 1-7.
        {AuthAlg::hmac_md5_96, repeat(0x0b, 16), text("Hi There"),
         "9294727a3638bb1c13f48ef8158bfc9d"},
        {AuthAlg::hmac_md5_96, text("Jefe"), text("what do ya want for nothing?"),
         "750c783e6ab0b503eaa86e310a5db738"},
        {AuthAlg::hmac_md5_96, repeat(0xaa, 16), repeat(0xdd, 50),
         "56be34521d144c88dbb8c733f0e8b3f6"},
        {AuthAlg::hmac_md5_96, ascending, repeat(0xcd, 50), "697eaf0aca3a3aea3a75164746ffaa79"},
        {AuthAlg::hmac_md5_96, repeat(0x0c, 16), text("Test With Truncation"),
         "56461ef2342edc00f9bab995690efd4c"},
        {AuthAlg::hmac_md5_96, repeat(0xaa, 80), hash_key_first,
         "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
        {AuthAlg::hmac_md5_96, repeat(0xaa, 80),
         text("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
         "6f630fad67cda0ee1fb1f562db3aa53e"},
        // RFC 2202 §3, HMAC-SHA-1 test cases 1-7.
        {AuthAlg::hmac_sha1_96, repeat(0x0b, 20), text("Hi There"),
         "b617318655057264e28bc0b6fb378c8ef146be00"},
        {AuthAlg::hmac_sha1_96, text("Jefe"), text("what do ya want for nothing?"),
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {AuthAlg::hmac_sha1_96, repeat(0xaa, 20), repeat(0xdd, 50),
         "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
        {AuthAlg::hmac_sha1_96, ascending, repeat(0xcd, 50),
         "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
        {AuthAlg::hmac_sha1_96, repeat(0x0c, 20), text("Test With Truncation"),
         "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
        {AuthAlg::hmac_sha1_96, repeat(0xaa, 80), hash_key_first,
         "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
        {AuthAlg::hmac_sha1_96, repeat(0xaa, 80),
         text("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
         "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
        // RFC 4231 §4, HMAC-SHA-256 test cases 1-7 (case 5 is given truncated to 128 bits).
        {AuthAlg::hmac_sha256_128, repeat(0x0b, 20), text("Hi There"),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {AuthAlg::hmac_sha256_128, text("Jefe"), text("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {AuthAlg::hmac_sha256_128, repeat(0xaa, 20), repeat(0xdd, 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {AuthAlg::hmac_sha256_128, ascending, repeat(0xcd, 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {AuthAlg::hmac_sha256_128, repeat(0x0c, 20), text("Test With Truncation"),
         "a3b6167473100ee06e0c796c2955552b"},
        {AuthAlg::hmac_sha256_128, repeat(0xaa, 131), hash_key_first,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {AuthAlg::hmac_sha256_128, repeat(0xaa, 131),
         text("This is a test using a larger than block-size key and a larger than block-size "
              "data. The key needs to be hashed before being used by the HMAC algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };

    for (std::size_t i = 0; i < cases.size(); ++i) {
        const HmacCase& c = cases[i];
        INFO("case " << i);
        const Bytes expected = hex(c.digest);
        auto h = make_hmac_unchecked(c.alg, c.key);
        REQUIRE(h.ok());

        // Twice, to show reset() starts a new message under the same key.
        for (int round = 0; round < 2; ++round) {
            REQUIRE(h->reset());
            // Split updates must give the same MAC as one update.
            const std::size_t half = c.data.size() / 2;
            REQUIRE(h->update(std::span(c.data).first(half)));
            REQUIRE(h->update(std::span(c.data).subspan(half)));
            Bytes out(expected.size());
            REQUIRE(h->final(out));
            CHECK(out == expected);
        }

        // The IPsec truncation is the leading bytes (RFC 2104 §5, RFC 2404 §2, RFC 4868 §2.3).
        REQUIRE(h->reset());
        REQUIRE(h->update(c.data));
        Bytes icv(h->icv_bytes());
        REQUIRE(h->final(icv));
        CHECK(icv == Bytes(expected.begin(), expected.begin() + static_cast<long>(icv.size())));
    }
}

TEST_CASE("Hmac sizes, key checks and misuse", "[crypto]") {
    struct Sizes {
        AuthAlg alg;
        std::size_t key, icv, digest;
    };
    for (const Sizes s :
         {Sizes{AuthAlg::hmac_md5_96, 16, 12, 16}, Sizes{AuthAlg::hmac_sha1_96, 20, 12, 20},
          Sizes{AuthAlg::hmac_sha256_128, 32, 16, 32}}) {
        CHECK(hmac_key_bytes(s.alg) == s.key);
        auto h = make_hmac(s.alg, Bytes(s.key, 1));
        REQUIRE(h.ok());
        CHECK(h->alg() == s.alg);
        CHECK(h->icv_bytes() == s.icv);
        CHECK(h->digest_bytes() == s.digest);
        Bytes too_long(s.digest + 1);
        CHECK_FALSE(h->final(too_long));

        auto wrong = make_hmac(s.alg, Bytes(s.key - 1, 1));
        REQUIRE_FALSE(wrong.ok());
        CHECK(wrong.error().find(std::to_string(s.key) + "-byte") != std::string::npos);
    }
    CHECK_FALSE(make_hmac(AuthAlg::none, Bytes(16)).ok());
    CHECK_FALSE(make_hmac_unchecked(AuthAlg::hmac_sha1_96, {}).ok());
}

TEST_CASE("AesGcm known answers: McGrew-Viega GCM spec test cases", "[crypto]") {
    struct GcmCase {
        int number;
        Bytes key, nonce, aad, plaintext, ciphertext, tag;
    };
    const Bytes k = hex("feffe9928665731c6d6a8f9467308308");
    const Bytes k256 = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    const Bytes nonce = hex("cafebabefacedbaddecaf888");
    const Bytes p =
        hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
    const Bytes p60(p.begin(), p.begin() + 60);
    const Bytes aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const Bytes c128 =
        hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985");
    const Bytes c256 =
        hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad");
    const std::vector<GcmCase> cases = {
        {1, Bytes(16), Bytes(12), {}, {}, {}, hex("58e2fccefa7e3061367f1d57a4e7455a")},
        {2,
         Bytes(16),
         Bytes(12),
         {},
         Bytes(16),
         hex("0388dace60b6a392f328c2b971b2fe78"),
         hex("ab6e47d42cec13bdf53a67b21257bddf")},
        {3, k, nonce, {}, p, c128, hex("4d5c2af327cd64a62cf35abd2ba6fab4")},
        {4, k, nonce, aad, p60, Bytes(c128.begin(), c128.begin() + 60),
         hex("5bc94fbc3221a5db94fae95ae7121a47")},
        {13, Bytes(32), Bytes(12), {}, {}, {}, hex("530f8afbc74536b9a963b4f1c4cb738b")},
        {14,
         Bytes(32),
         Bytes(12),
         {},
         Bytes(16),
         hex("cea7403d4d606b6e074ec5d3baf39d18"),
         hex("d0d1c8a799996bf0265b98b5d48ab919")},
        {15, k256, nonce, {}, p, c256, hex("b094dac5d93471bdec1a502270e3cc6c")},
        {16, k256, nonce, aad, p60, Bytes(c256.begin(), c256.begin() + 60),
         hex("76fc6ece0f4e1768cddf8853bb2d551b")},
    };
    for (const GcmBackend backend : gcm_backends()) {
        for (const GcmCase& c : cases) {
            INFO("test case " << c.number << ", " << backend_name(backend));
            auto gcm = AesGcm::create(c.key, backend);
            REQUIRE(gcm.ok());
            CHECK(gcm->backend() == backend);
            const std::span<const uint8_t, 12> n(c.nonce.data(), 12);

            Bytes data = c.plaintext;
            std::array<uint8_t, 16> tag{};
            REQUIRE(gcm->seal(n, c.aad, data, tag));
            CHECK(data == c.ciphertext);
            CHECK(Bytes(tag.begin(), tag.end()) == c.tag);

            REQUIRE(gcm->open(n, c.aad, data, tag));
            CHECK(data == c.plaintext);

            // A wrong tag is refused and leaves no plaintext behind.
            REQUIRE(gcm->seal(n, c.aad, data, tag));
            tag[3] ^= 0x40;
            CHECK_FALSE(gcm->open(n, c.aad, data, tag));
            CHECK(data == Bytes(data.size(), 0));
        }
    }
    CHECK_FALSE(AesGcm::create(Bytes(20)).ok());
}

TEST_CASE("AesGcm backends agree byte for byte on every length", "[crypto]") {
    if (!avx512_gcm::available()) CHECK_FALSE(AesGcm::create(Bytes(16), GcmBackend::avx512).ok());
    if (!vaes256_gcm::available()) CHECK_FALSE(AesGcm::create(Bytes(16), GcmBackend::vaes256).ok());
    if (our_gcm_backends().empty()) {
        WARN("this CPU has no VAES/VPCLMULQDQ: only the OpenSSL backend runs here");
        return;
    }
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n <= 800; ++n)
        lengths.push_back(n);
    for (std::size_t n : {1023, 1024, 1025, 1400, 1438, 1500, 4113, 9000, 65535}) {
        lengths.push_back(n);
    }
    for (const GcmBackend backend : our_gcm_backends()) {
        CHECK_FALSE(AesGcm::create(Bytes(24), backend).ok());
        for (const std::size_t key_bytes : {16, 32}) {
            Bytes key(key_bytes);
            randombytes_buf(key.data(), key.size());
            auto ours = AesGcm::create(key, backend);
            auto openssl = AesGcm::create(key, GcmBackend::openssl);
            REQUIRE(ours.ok());
            REQUIRE(openssl.ok());
            for (const std::size_t aad_bytes : {0, 8, 12, 20, 300}) {
                for (const std::size_t n : lengths) {
                    INFO(backend_name(backend) << ", key " << key_bytes << " B, aad " << aad_bytes
                                               << " B, data " << n << " B");
                    std::array<uint8_t, 12> nonce{};
                    Bytes aad(aad_bytes);
                    Bytes plaintext(n);
                    randombytes_buf(nonce.data(), nonce.size());
                    // (not with the null data() of an empty vector: libsodium declares it nonnull)
                    if (!aad.empty()) randombytes_buf(aad.data(), aad.size());
                    if (!plaintext.empty()) randombytes_buf(plaintext.data(), plaintext.size());
                    Bytes a = plaintext;
                    Bytes b = plaintext;
                    std::array<uint8_t, 16> tag_a{};
                    std::array<uint8_t, 16> tag_b{};
                    REQUIRE(ours->seal(nonce, aad, a, tag_a));
                    REQUIRE(openssl->seal(nonce, aad, b, tag_b));
                    REQUIRE(a == b);
                    REQUIRE(tag_a == tag_b);
                    // Each opens what the other sealed.
                    REQUIRE(openssl->open(nonce, aad, a, tag_a));
                    REQUIRE(a == plaintext);
                    REQUIRE(ours->open(nonce, aad, b, tag_b));
                    REQUIRE(b == plaintext);
                }
            }
        }
    }
}

TEST_CASE("AesGcm (ours) refuses any change to tag, ciphertext, AAD or nonce", "[crypto]") {
    if (our_gcm_backends().empty()) {
        WARN("this CPU has no VAES/VPCLMULQDQ: nothing to check");
        return;
    }
    for (const GcmBackend backend : our_gcm_backends()) {
        INFO(backend_name(backend));
        auto gcm = AesGcm::create(counting(1, 16), backend);
        REQUIRE(gcm.ok());
        const std::array<uint8_t, 12> nonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        const Bytes aad = counting(0x30, 12);
        const Bytes plaintext = counting(0x55, 1400);
        Bytes sealed = plaintext;
        std::array<uint8_t, 16> tag{};
        REQUIRE(gcm->seal(nonce, aad, sealed, tag));
        auto refused = [&](std::array<uint8_t, 12> n, Bytes a, Bytes data,
                           std::array<uint8_t, 16> t) {
            return !gcm->open(n, a, data, t) && data == Bytes(data.size(), 0);
        };
        for (std::size_t bit = 0; bit < 128; bit += 7) {
            auto t = tag;
            t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
            CHECK(refused(nonce, aad, sealed, t));
        }
        for (std::size_t at : {std::size_t{0}, std::size_t{15}, std::size_t{16}, std::size_t{700},
                               std::size_t{1399}}) {
            Bytes c = sealed;
            c[at] ^= 0x80;
            CHECK(refused(nonce, aad, c, tag));
        }
        Bytes a = aad;
        a[11] ^= 1;
        CHECK(refused(nonce, a, sealed, tag));
        CHECK(refused(nonce, Bytes(aad.begin(), aad.end() - 1), sealed, tag));
        CHECK(refused(nonce, aad, Bytes(sealed.begin(), sealed.end() - 1), tag));
        auto n = nonce;
        n[11] ^= 1;
        CHECK(refused(n, aad, sealed, tag));
        Bytes opened = sealed;
        REQUIRE(gcm->open(nonce, aad, opened, tag));
        CHECK(opened == plaintext);
    }
}

// The CPU flags the kernel reports (it leaves out what it does not save the registers of).
std::string cpu_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) == 0) return line.substr(line.find(':') + 1) + " ";
    }
    return "";
}

TEST_CASE("Our AES-GCMs run wherever the CPU has their instructions", "[crypto]") {
    const std::string flags = cpu_flags();
    if (flags.empty()) {
        WARN("no /proc/cpuinfo flags: nothing to compare");
        return;
    }
    auto has = [&](std::initializer_list<const char*> names) {
        return std::all_of(names.begin(), names.end(), [&](const char* n) {
            return flags.find(std::string(" ") + n + " ") != std::string::npos;
        });
    };
    const bool vaes = has({"aes", "pclmulqdq", "sse4_1", "vaes", "vpclmulqdq"});
    // A self-test that failed on a CPU that has them would quietly leave it to OpenSSL.
    CHECK(vaes256_gcm::available() == (vaes && has({"avx2"})));
    CHECK(avx512_gcm::available() == (vaes && has({"avx512f", "avx512bw", "avx512vl"})));
}

TEST_CASE("AesGcm picks the fastest it runs, unless IPSECFS_AES_GCM says which", "[crypto]") {
    const std::vector<GcmBackend> ours = our_gcm_backends();
    const GcmBackend best = ours.empty() ? GcmBackend::openssl : ours.front();
    CHECK(AesGcm::create(Bytes(16))->backend() == best);
    CHECK(AesGcm::create(Bytes(32))->backend() == best);
    // AES-192 is OpenSSL's alone.
    CHECK(AesGcm::create(Bytes(24))->backend() == GcmBackend::openssl);
    auto with_env = [](const char* value) {
        REQUIRE(setenv("IPSECFS_AES_GCM", value, 1) == 0);
        const GcmBackend chosen = AesGcm::create(Bytes(16))->backend();
        REQUIRE(unsetenv("IPSECFS_AES_GCM") == 0);
        return chosen;
    };
    CHECK(with_env("openssl") == GcmBackend::openssl);
    CHECK(with_env("vaes256") == (vaes256_gcm::available() ? GcmBackend::vaes256 : best));
    CHECK(with_env("something else") == best);
}

TEST_CASE("ChaCha20-Poly1305 ESP cipher reproduces RFC 8439 §2.8.2", "[crypto]") {
    // The RFC's 12-byte AAD 50515253 c0c1c2c3 c4c5c6c7 is exactly the ESN AAD of RFC 7634 §2.1
    // for SPI 0x50515253 and sequence number 0xc0c1c2c3c4c5c6c7; its nonce 07000000 ||
    // 4041424344454647 is salt || IV.
    Bytes key = counting(0x80, 32);
    const Bytes salt = hex("07000000");
    key.insert(key.end(), salt.begin(), salt.end());
    auto cipher = make_esp_cipher(esp_transform("chacha20poly1305"), key, {});
    REQUIRE(cipher.ok());
    EspCipher& c = **cipher;

    const Bytes plaintext = text(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
        "the future, sunscreen would be it.");
    const Bytes ciphertext =
        hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
            "3ff4def08e4b7a9de576d26586cec64b6116");
    const Bytes tag = hex("1ae10b594f09e26a7e902ecbd0600691");
    const std::array<uint8_t, 8> header = {0x50, 0x51, 0x52, 0x53, 0xc4, 0xc5, 0xc6, 0xc7};
    const uint64_t seq = 0xc0c1c2c3c4c5c6c7ULL;

    Bytes data = plaintext;
    std::array<uint8_t, 8> iv{};
    std::array<uint8_t, 16> icv{};
    c.set_next_iv_for_test(hex("4041424344454647"));
    REQUIRE(c.seal(header, seq, true, iv, data, icv));
    CHECK(Bytes(iv.begin(), iv.end()) == hex("4041424344454647"));
    CHECK(data == ciphertext);
    CHECK(Bytes(icv.begin(), icv.end()) == tag);

    REQUIRE(c.open(header, seq, true, iv, data, icv));
    CHECK(data == plaintext);
}

TEST_CASE("AEAD ciphers send the sequence number as IV", "[crypto]") {
    for (const char* name : {"aes128gcm16", "aes256gcm16", "chacha20poly1305"}) {
        INFO(name);
        const Transform t = esp_transform(name);
        auto c = make_esp_cipher(t, Bytes(enc_key_bytes(t), 0x42), {});
        REQUIRE(c.ok());
        const std::array<uint8_t, 8> header = {0, 0, 0x10, 0, 0x89, 0xab, 0xcd, 0xef};
        std::array<uint8_t, 8> iv{};
        std::array<uint8_t, 16> icv{};
        Bytes data(16, 0x11);
        REQUIRE((*c)->seal(header, 0x0123456789abcdefULL, true, iv, data, icv));
        CHECK(Bytes(iv.begin(), iv.end()) == hex("0123456789abcdef"));
    }
}

TEST_CASE("CBC ciphers draw a fresh unpredictable IV per packet", "[crypto]") {
    for (const char* name : {"aes128-sha1-96", "3des-md5-96"}) {
        INFO(name);
        const Transform t = esp_transform(name);
        auto c = make_esp_cipher(t, Bytes(enc_key_bytes(t), 1), Bytes(auth_key_bytes(t), 2));
        REQUIRE(c.ok());
        const std::size_t iv_len = (*c)->iv_bytes();
        std::set<std::string> seen;
        const std::array<uint8_t, 8> header = {0, 0, 0x10, 0, 0, 0, 0, 1};
        for (int i = 0; i < 200; ++i) {
            Bytes iv(iv_len), data((*c)->block_bytes()), icv((*c)->icv_bytes());
            REQUIRE((*c)->seal(header, 1, false, iv, data, icv));
            seen.emplace(iv.begin(), iv.end());
        }
        CHECK(seen.size() == 200);
    }

    auto a = IvSource::create();
    auto b = IvSource::create();
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    Bytes x(1000), y(1000);
    a->fill(x);
    b->fill(y);
    CHECK(x != y);
    CHECK(x != Bytes(1000, 0));
}

TEST_CASE("make_esp_cipher sizes match the algorithm registry", "[crypto]") {
    for (const char* name :
         {"3des", "3des-md5-96", "3des-sha1-96", "aes128-sha1-96", "aes192-sha1-96",
          "aes256-sha1-96", "aes128-sha2_256-128", "aes256-sha2_256-128", "null-sha1-96",
          "aes128gcm16", "aes256gcm16", "chacha20poly1305"}) {
        INFO(name);
        const Transform t = esp_transform(name);
        auto c = make_esp_cipher(t, Bytes(enc_key_bytes(t), 7), Bytes(auth_key_bytes(t), 9));
        REQUIRE(c.ok());
        CHECK((*c)->iv_bytes() == esp_iv_bytes(t.enc));
        CHECK((*c)->block_bytes() == esp_block_bytes(t.enc));
        CHECK((*c)->icv_bytes() == icv_bytes(t));
    }
}

TEST_CASE("make_esp_cipher names the expected key length", "[crypto]") {
    struct BadKey {
        const char* name;
        std::size_t enc, auth;
        const char* expect;
    };
    for (const BadKey& b : {
             BadKey{"aes128gcm16", 16, 0, "20-byte encryption key"},
             BadKey{"aes256gcm16", 32, 0, "36-byte encryption key"},
             BadKey{"chacha20poly1305", 32, 0, "36-byte encryption key"},
             BadKey{"aes128-sha1-96", 15, 20, "16-byte encryption key"},
             BadKey{"aes192-sha1-96", 16, 20, "24-byte encryption key"},
             BadKey{"aes256-sha2_256-128", 32, 20, "32-byte authentication key"},
             BadKey{"aes128-sha1-96", 16, 16, "20-byte authentication key"},
             BadKey{"3des-md5-96", 16, 16, "24-byte encryption key"},
             BadKey{"3des-md5-96", 24, 20, "16-byte authentication key"},
             BadKey{"3des", 24, 16, "no authentication key"},
             BadKey{"null-sha1-96", 8, 20, "no encryption key"},
             BadKey{"aes128gcm16", 20, 20, "no authentication key"},
         }) {
        INFO(b.name << " enc " << b.enc << " auth " << b.auth);
        auto c = make_esp_cipher(esp_transform(b.name), Bytes(b.enc, 1), Bytes(b.auth, 2));
        REQUIRE_FALSE(c.ok());
        CHECK_THAT(c.error(), Catch::Contains(b.expect));
    }

    Transform ah{SaProto::ah, EncAlg::none, AuthAlg::hmac_sha1_96, CompAlg::none, 0};
    CHECK_FALSE(make_esp_cipher(ah, {}, Bytes(20)).ok());
    Transform null_alone{SaProto::esp, EncAlg::null, AuthAlg::none, CompAlg::none, 0};
    CHECK_FALSE(make_esp_cipher(null_alone, {}, {}).ok());
    Transform aes_odd{SaProto::esp, EncAlg::aes_cbc, AuthAlg::hmac_sha1_96, CompAlg::none, 100};
    CHECK_FALSE(make_esp_cipher(aes_odd, Bytes(13), Bytes(20)).ok());
    Transform gcm_with_hmac = esp_transform("aes128gcm16");
    gcm_with_hmac.auth = AuthAlg::hmac_sha1_96;
    CHECK_FALSE(make_esp_cipher(gcm_with_hmac, Bytes(20), Bytes(20)).ok());
}

TEST_CASE("EspCipher refuses spans of the wrong size", "[crypto]") {
    const Transform t = esp_transform("aes128-sha1-96");
    auto c = make_esp_cipher(t, Bytes(16, 1), Bytes(20, 2));
    REQUIRE(c.ok());
    const std::array<uint8_t, 8> header{};
    Bytes iv(16), icv(12), data(32);
    Bytes short_iv(8), short_icv(11), odd(31);
    CHECK_FALSE((*c)->seal(header, 1, false, short_iv, data, icv));
    CHECK_FALSE((*c)->seal(header, 1, false, iv, odd, icv));
    CHECK_FALSE((*c)->seal(header, 1, false, iv, data, short_icv));
    CHECK_FALSE((*c)->open(header, 1, false, iv, odd, icv));
    CHECK_FALSE((*c)->open(header, 1, false, iv, data, short_icv));
}
