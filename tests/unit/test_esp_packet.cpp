#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.hpp"
#include "netpath/crypto/esp_cipher.hpp"
#include "netpath/esp_packet.hpp"

#include "tests/support/vectors.hpp"

using namespace ipsecfs;
using crypto::EspCipher;

namespace {

using Bytes = std::vector<uint8_t>;

using ipsecfs::testing::hex;

Bytes be64(uint64_t v) {
    Bytes out(8);
    for (int i = 7; i >= 0; --i, v >>= 8)
        out[static_cast<std::size_t>(i)] = static_cast<uint8_t>(v);
    return out;
}

Bytes to_bytes(std::span<const uint8_t> s) {
    return Bytes(s.begin(), s.end());
}

const std::vector<std::string> kSuites = {
    "3des",           "3des-md5-96",    "3des-sha1-96",        "aes128-sha1-96",
    "aes192-sha1-96", "aes256-sha1-96", "aes128-sha2_256-128", "aes256-sha2_256-128",
    "null-sha1-96",   "aes128gcm16",    "aes256gcm16",         "chacha20poly1305",
};

Transform transform_of(const std::string& name) {
    auto t = parse_esp_name(name);
    REQUIRE(t.ok());
    return *t;
}

std::unique_ptr<EspCipher> cipher_for(const std::string& name, uint8_t key_byte = 0x5a) {
    const Transform t = transform_of(name);
    Bytes enc(enc_key_bytes(t));
    for (std::size_t i = 0; i < enc.size(); ++i)
        enc[i] = static_cast<uint8_t>(key_byte + i);
    Bytes auth(auth_key_bytes(t));
    for (std::size_t i = 0; i < auth.size(); ++i)
        auth[i] = static_cast<uint8_t>(~key_byte - i);
    auto c = crypto::make_esp_cipher(t, enc, auth);
    REQUIRE(c.ok());
    return std::move(*c);
}

Bytes sample_payload(std::size_t n) {
    Bytes p(n);
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<uint8_t>(i * 7 + 3);
    return p;
}

Bytes seal(EspCipher& c, uint64_t seq, bool esn, const Bytes& payload, uint8_t nh = 4) {
    Bytes out(payload.size() + esp_max_overhead(c));
    const std::size_t n = esp_seal(c, 0x1000, seq, esn, nh, payload, out);
    REQUIRE(n > 0);
    out.resize(n);
    return out;
}

struct Vector {
    std::map<std::string, std::string> f;
    const std::string& operator[](const std::string& k) const {
        auto it = f.find(k);
        if (it == f.end()) FAIL("vector field missing: " << k);
        return it->second;
    }
};

std::vector<Vector> load_scapy_vectors() {
    std::vector<Vector> out;
    for (auto& fields : testing::load_vector_file("esp/scapy_vectors.txt")) {
        out.push_back(Vector{std::move(fields)});
    }
    return out;
}

}  // namespace

TEST_CASE("parse_esp_header reads SPI and sequence number", "[esp]") {
    const Bytes p = hex("0000100289abcdef00");
    for (std::size_t n = 0; n < 8; ++n)
        CHECK_FALSE(parse_esp_header(std::span(p).first(n)));
    auto h = parse_esp_header(p);
    REQUIRE(h);
    CHECK(h->spi == 0x1002);
    CHECK(h->seq_lo == 0x89abcdef);
}

TEST_CASE("esp_open decrypts every scapy packet", "[esp]") {
    const auto vectors = load_scapy_vectors();
    std::map<std::string, int> per_suite;
    for (const Vector& v : vectors) {
        INFO(v["name"]);
        const uint64_t seq = std::stoull(v["seq"]);
        const bool esn = v["esn"] == "1";
        auto c = crypto::make_esp_cipher(transform_of(v["suite"]), hex(v["enc_key"]),
                                         hex(v["auth_key"]));
        REQUIRE(c.ok());
        Bytes packet = hex(v["packet"]);

        auto h = parse_esp_header(packet);
        REQUIRE(h);
        CHECK(h->spi == std::stoul(v["spi"]));
        CHECK(h->seq_lo == static_cast<uint32_t>(seq));

        const EspOpened r = esp_open(**c, packet, seq, esn);
        REQUIRE(r.status == EspOpenStatus::ok);
        CHECK(to_bytes(r.payload) == hex(v["plaintext"]));
        CHECK(r.next_header == std::stoul(v["next_header"]));
        ++per_suite[v["suite"]];
    }
    for (const std::string& s : kSuites) {
        INFO(s);
        CHECK(per_suite[s] >= 5);
    }
}

TEST_CASE("esp_seal reproduces every scapy packet byte for byte", "[esp]") {
    for (const Vector& v : load_scapy_vectors()) {
        INFO(v["name"]);
        const uint64_t seq = std::stoull(v["seq"]);
        const bool esn = v["esn"] == "1";
        const Transform t = transform_of(v["suite"]);
        auto c = crypto::make_esp_cipher(t, hex(v["enc_key"]), hex(v["auth_key"]));
        REQUIRE(c.ok());
        // AEAD: no test hook — our own IV choice (the sequence number) must be what scapy got.
        if (t.is_aead()) {
            CHECK(hex(v["iv"]) == be64(seq));
        } else {
            (*c)->set_next_iv_for_test(hex(v["iv"]));
        }
        const Bytes plaintext = hex(v["plaintext"]);
        const auto nh = static_cast<uint8_t>(std::stoul(v["next_header"]));
        Bytes out(plaintext.size() + esp_max_overhead(**c));
        const std::size_t n = esp_seal(**c, static_cast<uint32_t>(std::stoul(v["spi"])), seq, esn,
                                       nh, plaintext, out);
        REQUIRE(n > 0);
        out.resize(n);
        CHECK(out == hex(v["packet"]));
    }
}

TEST_CASE("Round trip for every suite, with and without ESN", "[esp]") {
    struct SeqCase {
        uint64_t seq;
        bool esn;
    };
    for (const std::string& name : kSuites) {
        INFO(name);
        auto tx = cipher_for(name);
        auto rx = cipher_for(name);
        for (const SeqCase s : {SeqCase{1, false}, SeqCase{0xffffffffULL, false}, SeqCase{1, true},
                                SeqCase{(5ULL << 32) | 3, true}, SeqCase{UINT64_MAX, true}}) {
            for (std::size_t len : {0, 1, 2, 3, 13, 14, 15, 16, 17, 31, 64, 1400}) {
                INFO("seq " << s.seq << " esn " << s.esn << " len " << len);
                const Bytes payload = sample_payload(len);
                Bytes packet = seal(*tx, s.seq, s.esn, payload, 41);
                CHECK((packet.size() - 8 - tx->iv_bytes() - tx->icv_bytes()) % tx->block_bytes() ==
                      0);
                CHECK(packet.size() - payload.size() <= esp_max_overhead(*tx));
                const EspOpened r = esp_open(*rx, packet, s.seq, s.esn);
                REQUIRE(r.status == EspOpenStatus::ok);
                CHECK(to_bytes(r.payload) == payload);
                CHECK(r.next_header == 41);
            }
        }
    }
}

TEST_CASE("esp_seal works in place and refuses a short buffer", "[esp]") {
    for (const std::string& name : kSuites) {
        INFO(name);
        auto c = cipher_for(name);
        const Bytes payload = sample_payload(37);
        const std::size_t at = 8 + c->iv_bytes();
        Bytes buf(payload.size() + esp_max_overhead(*c), 0xee);
        std::copy(payload.begin(), payload.end(), buf.begin() + static_cast<long>(at));
        const std::size_t n =
            esp_seal(*c, 0x1000, 9, false, 17, std::span(buf).subspan(at, payload.size()), buf);
        REQUIRE(n > 0);

        Bytes shorter(n - 1);
        CHECK(esp_seal(*c, 0x1000, 10, false, 17, payload, shorter) == 0);
        Bytes exact(n);
        CHECK(esp_seal(*c, 0x1000, 10, false, 17, payload, exact) == n);

        const EspOpened r = esp_open(*c, std::span(buf).first(n), 9, false);
        REQUIRE(r.status == EspOpenStatus::ok);
        CHECK(to_bytes(r.payload) == payload);
        CHECK(r.next_header == 17);
    }
}

TEST_CASE("With ESN the high half of the sequence number is authenticated", "[esp]") {
    for (const std::string& name : kSuites) {
        const auto t = transform_of(name);
        if (icv_bytes(t) == 0) continue;  // 3DES alone cannot notice anything
        INFO(name);
        auto c = cipher_for(name);
        const uint64_t seq = (7ULL << 32) | 100;
        const Bytes packet = seal(*c, seq, true, sample_payload(50));
        for (const uint64_t wrong :
             {uint64_t{6} << 32 | 100, uint64_t{8} << 32 | 100, uint64_t{100}}) {
            Bytes copy = packet;
            CHECK(esp_open(*c, copy, wrong, true).status == EspOpenStatus::auth_failed);
        }
        Bytes copy = packet;
        CHECK(esp_open(*c, copy, seq, false).status == EspOpenStatus::auth_failed);
        copy = packet;
        CHECK(esp_open(*c, copy, seq, true).status == EspOpenStatus::ok);
    }
}

TEST_CASE("Flipping any bit of header, IV, ciphertext or ICV fails authentication", "[esp]") {
    for (const std::string& name : kSuites) {
        if (icv_bytes(transform_of(name)) == 0) continue;
        INFO(name);
        auto c = cipher_for(name);
        const Bytes packet = seal(*c, 77, false, sample_payload(45));
        for (std::size_t i = 0; i < packet.size(); ++i) {
            for (const uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
                INFO("byte " << i << " bit " << int(bit));
                Bytes copy = packet;
                copy[i] ^= bit;
                CHECK(esp_open(*c, copy, 77, false).status == EspOpenStatus::auth_failed);
            }
        }
        Bytes copy = packet;
        CHECK(esp_open(*c, copy, 77, false).status == EspOpenStatus::ok);
    }
}

TEST_CASE("Truncation at every length gives the right status", "[esp]") {
    for (const std::string& name : kSuites) {
        INFO(name);
        auto c = cipher_for(name);
        const Bytes packet = seal(*c, 3, false, sample_payload(61));
        const std::size_t fixed = 8 + c->iv_bytes() + c->icv_bytes();
        for (std::size_t len = 0; len <= packet.size(); ++len) {
            INFO("length " << len);
            // Exactly sized heap buffer, so a sanitizer build catches any overread.
            auto buf = std::make_unique<uint8_t[]>(len + 1);
            std::copy(packet.begin(), packet.begin() + static_cast<long>(len), buf.get());
            const EspOpened r = esp_open(*c, std::span(buf.get(), len), 3, false);
            if (len < 8) {
                CHECK(r.status == EspOpenStatus::malformed);
            } else if (len < fixed + 2 || (len - fixed) % c->block_bytes() != 0) {
                CHECK(r.status == EspOpenStatus::bad_size);
            } else if (len < packet.size() && c->icv_bytes() > 0) {
                CHECK(r.status == EspOpenStatus::auth_failed);
            } else if (len == packet.size()) {
                CHECK(r.status == EspOpenStatus::ok);
            } else {
                CHECK(r.status != EspOpenStatus::ok);  // 3DES alone: garbage, must not crash
            }
            if (r.status != EspOpenStatus::ok) CHECK(r.payload.empty());
        }
    }
}

TEST_CASE("Random garbage never crashes esp_open", "[esp]") {
    uint32_t state = 12345;
    auto next = [&state] {
        state = state * 1103515245u + 12345u;
        return static_cast<uint8_t>(state >> 16);
    };
    for (const std::string& name : kSuites) {
        auto c = cipher_for(name);
        for (std::size_t len = 0; len < 120; ++len) {
            auto buf = std::make_unique<uint8_t[]>(len + 1);
            for (std::size_t i = 0; i < len; ++i)
                buf[i] = next();
            const EspOpened r = esp_open(*c, std::span(buf.get(), len), next(), (len & 1) != 0);
            if (r.status == EspOpenStatus::ok) {
                CHECK(r.payload.data() >= buf.get());
                CHECK(r.payload.data() + r.payload.size() <= buf.get() + len);
            }
        }
    }
}

namespace {

// Seals an arbitrary (already "padded") ciphertext body through the cipher itself, so the ICV
// is valid and only the padding / sizes are wrong.
Bytes seal_raw_body(EspCipher& c, uint64_t seq, const Bytes& body) {
    Bytes packet(8 + c.iv_bytes() + body.size() + c.icv_bytes());
    const std::array<uint8_t, 8> header = {0, 0, 0x10, 0, 0, 0, 0, static_cast<uint8_t>(seq)};
    std::copy(header.begin(), header.end(), packet.begin());
    std::copy(body.begin(), body.end(), packet.begin() + 8 + static_cast<long>(c.iv_bytes()));
    std::span<uint8_t> all(packet);
    REQUIRE(c.seal(header, seq, false, all.subspan(8, c.iv_bytes()),
                   all.subspan(8 + c.iv_bytes(), body.size()), all.last(c.icv_bytes())));
    return packet;
}

}  // namespace

TEST_CASE("Bad padding is detected after authentication", "[esp]") {
    for (const std::string& name : kSuites) {
        INFO(name);
        auto c = cipher_for(name);
        const std::size_t block = c->block_bytes();
        // body = payload | padding | pad length | next header, 2 blocks (or 16 bytes) long.
        const std::size_t len = std::max<std::size_t>(2 * block, 16);
        auto body_with = [&](std::size_t pad_len, bool good_bytes) {
            Bytes body(len, 0xab);
            const std::size_t start = len - 2 - std::min(pad_len, len - 2);
            for (std::size_t i = 0; i < pad_len && start + i < len - 2; ++i) {
                body[start + i] = static_cast<uint8_t>(good_bytes ? i + 1 : i + 2);
            }
            body[len - 2] = static_cast<uint8_t>(pad_len);
            body[len - 1] = 4;
            return body;
        };

        Bytes ok = seal_raw_body(*c, 1, body_with(5, true));
        EspOpened r = esp_open(*c, ok, 1, false);
        REQUIRE(r.status == EspOpenStatus::ok);
        CHECK(r.payload.size() == len - 2 - 5);

        Bytes all_padding = seal_raw_body(*c, 1, body_with(len - 2, true));
        r = esp_open(*c, all_padding, 1, false);
        REQUIRE(r.status == EspOpenStatus::ok);
        CHECK(r.payload.empty());

        Bytes too_long = seal_raw_body(*c, 1, body_with(len - 1, true));
        CHECK(esp_open(*c, too_long, 1, false).status == EspOpenStatus::bad_padding);
        Bytes max_pad = seal_raw_body(*c, 1, body_with(255, true));
        CHECK(esp_open(*c, max_pad, 1, false).status == EspOpenStatus::bad_padding);
        Bytes wrong_bytes = seal_raw_body(*c, 1, body_with(5, false));
        CHECK(esp_open(*c, wrong_bytes, 1, false).status == EspOpenStatus::bad_padding);
    }
}

TEST_CASE("Ciphertext not a multiple of the block size is bad_size", "[esp]") {
    for (const std::string& name : kSuites) {
        INFO(name);
        auto c = cipher_for(name);
        const Bytes packet = seal(*c, 1, false, sample_payload(40));
        for (std::size_t extra = 1; extra < c->block_bytes(); ++extra) {
            Bytes longer = packet;
            longer.insert(longer.begin() + 8 + static_cast<long>(c->iv_bytes()), extra, 0);
            CHECK(esp_open(*c, longer, 1, false).status == EspOpenStatus::bad_size);
        }
    }
}

TEST_CASE("esp_max_overhead and drop reasons", "[esp]") {
    CHECK(esp_max_overhead(*cipher_for("aes128-sha1-96")) == 8 + 16 + 15 + 2 + 12);
    CHECK(esp_max_overhead(*cipher_for("aes256-sha2_256-128")) == 8 + 16 + 15 + 2 + 16);
    CHECK(esp_max_overhead(*cipher_for("3des-md5-96")) == 8 + 8 + 7 + 2 + 12);
    CHECK(esp_max_overhead(*cipher_for("3des")) == 8 + 8 + 7 + 2);
    CHECK(esp_max_overhead(*cipher_for("null-sha1-96")) == 8 + 0 + 3 + 2 + 12);
    CHECK(esp_max_overhead(*cipher_for("aes128gcm16")) == 8 + 8 + 3 + 2 + 16);
    CHECK(esp_max_overhead(*cipher_for("chacha20poly1305")) == 8 + 8 + 3 + 2 + 16);

    CHECK(drop_reason_of(EspOpenStatus::malformed) == DropReason::malformed);
    CHECK(drop_reason_of(EspOpenStatus::bad_size) == DropReason::bad_size);
    CHECK(drop_reason_of(EspOpenStatus::auth_failed) == DropReason::auth_failed);
    CHECK(drop_reason_of(EspOpenStatus::bad_padding) == DropReason::bad_padding);
}
