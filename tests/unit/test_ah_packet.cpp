// AH (RFC 4302): scapy's packets verified and reproduced byte for byte, the ICV's mutable
// fields, ESN against the RFC, and malformed input.

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.hpp"
#include "netpath/ah_packet.hpp"
#include "netpath/crypto/hmac.hpp"
#include "netpath/ip_header.hpp"

#include "tests/support/vectors.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;

using ipsecfs::testing::hex;

struct Vector {
    std::map<std::string, std::string> f;
    const std::string& operator[](const std::string& k) const {
        auto it = f.find(k);
        if (it == f.end()) FAIL("vector field missing: " << k);
        return it->second;
    }
};

std::vector<Vector> load_vectors(const std::string& file) {
    std::vector<Vector> out;
    for (auto& fields : testing::load_vector_file("ah/" + file))
        out.push_back(Vector{std::move(fields)});
    return out;
}

AuthAlg alg_of(const std::string& name) {
    auto t = parse_ah_name(name);
    REQUIRE(t.ok());
    return t->auth;
}

crypto::Hmac mac_for(AuthAlg alg, const Bytes& key) {
    auto m = crypto::make_hmac(alg, key);
    REQUIRE(m.ok());
    return std::move(*m);
}

crypto::Hmac mac_for(AuthAlg alg) {
    Bytes key(crypto::hmac_key_bytes(alg));
    for (std::size_t i = 0; i < key.size(); ++i)
        key[i] = static_cast<uint8_t>(0xa0 + i);
    return mac_for(alg, key);
}

std::unique_ptr<Packet> packet_of(const Bytes& b) {
    auto p = std::make_unique<Packet>();
    auto area = p->reset();
    std::copy(b.begin(), b.end(), area.begin());
    p->set_size(b.size());
    return p;
}

Bytes bytes_of(const Packet& p) {
    return {p.data(), p.data() + p.size()};
}

// A UDP datagram (checksum 0) with `len` payload bytes, IPv4 or IPv6.
Bytes udp_packet(bool v6, std::size_t len, uint8_t fill = 0x42) {
    const auto src = *IpAddress::parse(v6 ? "2001:db8::1" : "192.0.2.1");
    const auto dst = *IpAddress::parse(v6 ? "2001:db8::2" : "192.0.2.2");
    Bytes b(60 + 8 + len);
    const std::size_t h = write_ip_header(b.data(), src, dst, kProtoUdp, 8 + len, 0x10);
    b[h] = 0x0f, b[h + 1] = 0xa0, b[h + 2] = 0x0f, b[h + 3] = 0xa1;
    b[h + 4] = static_cast<uint8_t>((8 + len) >> 8), b[h + 5] = static_cast<uint8_t>(8 + len);
    for (std::size_t i = 0; i < len; ++i)
        b[h + 8 + i] = static_cast<uint8_t>(fill + i);
    b.resize(h + 8 + len);
    return b;
}

void fix_ipv4_checksum(Bytes& b) {
    const std::size_t ihl = (b[0] & 0x0fu) * 4u;
    b[10] = b[11] = 0;
    const uint16_t c = ipv4_checksum({b.data(), ihl});
    b[10] = static_cast<uint8_t>(c >> 8);
    b[11] = static_cast<uint8_t>(c);
}

AhStatus verify(crypto::Hmac& mac, const Bytes& b, uint64_t seq, bool esn) {
    const AhParsed p = parse_ah(b);
    if (p.status != AhStatus::ok) return p.status;
    return ah_verify(mac, b, p.ah, seq, esn);
}

}  // namespace

TEST_CASE("AH header sizes follow the alignment of each IP version", "[ah]") {
    CHECK(ah_header_bytes(12, Family::v4) == 24);
    CHECK(ah_header_bytes(16, Family::v4) == 28);
    CHECK(ah_header_bytes(12, Family::v6) == 24);
    CHECK(ah_header_bytes(16, Family::v6) == 32);  // 4 octets of ICV padding (RFC 4302 §2.6)
}

TEST_CASE("ah_verify accepts every scapy packet and ah_remove gives back the input", "[ah]") {
    const auto vectors = load_vectors("scapy_vectors.txt");
    REQUIRE(vectors.size() >= 24);
    std::map<std::string, int> per_alg;
    for (const Vector& v : vectors) {
        INFO(v["name"]);
        const uint64_t seq = std::stoull(v["seq"]);
        const bool esn = v["esn"] == "1";
        auto mac = mac_for(alg_of(v["auth"]), hex(v["auth_key"]));
        const Bytes packet = hex(v["packet"]);

        const AhParsed p = parse_ah(packet);
        REQUIRE(p.status == AhStatus::ok);
        CHECK(p.ah.spi == std::stoul(v["spi"]));
        CHECK(p.ah.seq_lo == static_cast<uint32_t>(seq));
        CHECK(p.ah.length == ah_header_bytes(mac.icv_bytes(), p.ah.slot.family));
        CHECK(ah_verify(mac, packet, p.ah, seq, esn) == AhStatus::ok);

        auto pkt = packet_of(packet);
        ah_remove(*pkt, p.ah);
        CHECK(bytes_of(*pkt) == hex(v["input"]));
        ++per_alg[v["auth"]];
    }
    for (const char* a : {"hmac-md5-96", "hmac-sha1-96", "hmac-sha2_256-128"}) {
        INFO(a);
        CHECK(per_alg[a] == 8);
    }
}

TEST_CASE("ah_seal reproduces every scapy packet byte for byte", "[ah]") {
    for (const Vector& v : load_vectors("scapy_vectors.txt")) {
        INFO(v["name"]);
        auto mac = mac_for(alg_of(v["auth"]), hex(v["auth_key"]));
        auto pkt = packet_of(hex(v["input"]));
        REQUIRE(ah_seal(mac, *pkt, static_cast<uint32_t>(std::stoul(v["spi"])),
                        std::stoull(v["seq"]), v["esn"] == "1") == AhStatus::ok);
        CHECK(bytes_of(*pkt) == hex(v["packet"]));
    }
}

TEST_CASE("the ICV ignores the mutable fields and covers everything else", "[ah]") {
    for (const Vector& v : load_vectors("scapy_vectors.txt")) {
        INFO(v["name"]);
        const uint64_t seq = std::stoull(v["seq"]);
        const bool esn = v["esn"] == "1";
        auto mac = mac_for(alg_of(v["auth"]), hex(v["auth_key"]));
        const Bytes packet = hex(v["packet"]);
        const AhParsed p = parse_ah(packet);
        REQUIRE(p.status == AhStatus::ok);

        // What routers may change en route (RFC 4302 §3.3.3.1).
        Bytes moved = packet;
        if (p.ah.slot.family == Family::v4) {
            moved[1] ^= 0xfc;  // DSCP/ECN
            moved[6] ^= 0x40;  // DF
            moved[8] -= 3;     // TTL
            fix_ipv4_checksum(moved);
        } else {
            moved[0] ^= 0x0f;  // traffic class, flow label
            moved[1] ^= 0xff;
            moved[3] ^= 0x5a;
            moved[7] -= 3;  // hop limit
        }
        CHECK(verify(mac, moved, seq, esn) == AhStatus::ok);

        // Every other byte counts, except the mutable option data scapy marked.
        std::size_t caught = 0, tried = 0;
        for (std::size_t i = 0; i < packet.size(); ++i) {
            const bool mutable_v4 = p.ah.slot.family == Family::v4 &&
                                    (i == 1 || i == 6 || i == 7 || i == 8 || i == 10 || i == 11);
            const bool mutable_v6 = p.ah.slot.family == Family::v6 && (i < 4 || i == 7);
            if (mutable_v4 || mutable_v6) continue;
            Bytes bad = packet;
            bad[i] ^= 0x01;
            const AhParsed bp = parse_ah(bad);
            if (bp.status != AhStatus::ok) continue;  // a length or next header: malformed
            ++tried;
            if (ah_verify(mac, bad, bp.ah, seq, esn) != AhStatus::ok) ++caught;
        }
        const std::string& name = v["name"];
        if (name.find("options") != std::string::npos) {
            // The record route option (7 octets) is mutable, so zeroed whole; only a change of
            // its length shows, as it moves the options after it.
            CHECK(tried - caught == 6);
        } else if (name.find("destopts") != std::string::npos) {
            // Option data flagged "may change en route": "chg!" and "en route".
            CHECK(tried - caught == 12);
        } else {
            CHECK(caught == tried);
        }
    }
}

TEST_CASE("ESN: the high half of the sequence number is in the ICV as RFC 4302 says", "[ah]") {
    for (const AuthAlg alg :
         {AuthAlg::hmac_md5_96, AuthAlg::hmac_sha1_96, AuthAlg::hmac_sha256_128}) {
        for (const bool v6 : {false, true}) {
            INFO("alg " << static_cast<int>(alg) << " v6 " << v6);
            auto mac = mac_for(alg);
            const uint64_t seq = (uint64_t{0x1234} << 32) | 0x10;
            auto pkt = packet_of(udp_packet(v6, 77));
            REQUIRE(ah_seal(mac, *pkt, 0x4321, seq, true) == AhStatus::ok);
            const Bytes sealed = bytes_of(*pkt);

            // RFC 4302 §3.3.3 + §2.5.1/§3.3.3.2.2 by hand: mutable fields and ICV zeroed, the
            // wire seq is the low half, the high half appended after the packet.
            Bytes input = sealed;
            const std::size_t ah = v6 ? 40 : 20;
            if (v6) {
                input[0] &= 0xf0;
                input[1] = input[2] = input[3] = 0;
                input[7] = 0;
            } else {
                input[1] = 0;
                input[6] = input[7] = input[8] = 0;
                input[10] = input[11] = 0;
            }
            CHECK(sealed[ah + 8] == 0x00);
            CHECK(sealed[ah + 11] == 0x10);
            std::fill_n(input.begin() + static_cast<long>(ah + 12), mac.icv_bytes(), 0);
            input.insert(input.end(), {0x00, 0x00, 0x12, 0x34});
            Bytes expected(mac.icv_bytes());
            REQUIRE(mac.reset());
            REQUIRE(mac.update(input));
            REQUIRE(mac.final(expected));
            CHECK(Bytes(sealed.begin() + static_cast<long>(ah + 12),
                        sealed.begin() + static_cast<long>(ah + 12 + mac.icv_bytes())) == expected);

            CHECK(verify(mac, sealed, seq, true) == AhStatus::ok);
            CHECK(verify(mac, sealed, seq + (uint64_t{1} << 32), true) == AhStatus::auth_failed);
            CHECK(verify(mac, sealed, seq - (uint64_t{1} << 32), true) == AhStatus::auth_failed);
            CHECK(verify(mac, sealed, seq, false) == AhStatus::auth_failed);
        }
    }
}

TEST_CASE("AH round trips over both IP versions and every algorithm", "[ah]") {
    for (const AuthAlg alg :
         {AuthAlg::hmac_md5_96, AuthAlg::hmac_sha1_96, AuthAlg::hmac_sha256_128}) {
        for (const bool v6 : {false, true}) {
            for (const std::size_t len : {0u, 1u, 3u, 100u, 1400u}) {
                INFO("alg " << static_cast<int>(alg) << " v6 " << v6 << " len " << len);
                auto tx = mac_for(alg);
                auto rx = mac_for(alg);
                const Bytes clear = udp_packet(v6, len);
                auto pkt = packet_of(clear);
                REQUIRE(ah_seal(tx, *pkt, 0x1000, 77, false) == AhStatus::ok);
                const auto ip = parse_ip(pkt->bytes());
                REQUIRE(ip);
                CHECK(ip->protocol == kProtoAh);
                CHECK(ip->total_len == pkt->size());
                if (!v6) CHECK(ipv4_checksum(pkt->bytes().first(20)) == 0);
                CHECK(pkt->size() - clear.size() == ah_header_bytes(tx.icv_bytes(), ip->family));
                const AhParsed p = parse_ah(pkt->bytes());
                REQUIRE(p.status == AhStatus::ok);
                CHECK(p.ah.next_header == kProtoUdp);
                CHECK(ah_verify(rx, pkt->bytes(), p.ah, 77, false) == AhStatus::ok);
                // Without ESN only the wire bits count: the number passed in is not used.
                CHECK(ah_verify(rx, pkt->bytes(), p.ah, 78, false) == AhStatus::ok);
                ah_remove(*pkt, p.ah);
                CHECK(bytes_of(*pkt) == clear);
            }
        }
    }
}

TEST_CASE("a wrong key fails authentication", "[ah]") {
    auto tx = mac_for(AuthAlg::hmac_sha1_96);
    Bytes other(20, 0x11);
    auto rx = mac_for(AuthAlg::hmac_sha1_96, other);
    auto pkt = packet_of(udp_packet(false, 40));
    REQUIRE(ah_seal(tx, *pkt, 0x1000, 1, false) == AhStatus::ok);
    CHECK(verify(rx, bytes_of(*pkt), 1, false) == AhStatus::auth_failed);
}

TEST_CASE("malformed AH is refused without reading past the packet", "[ah]") {
    auto mac = mac_for(AuthAlg::hmac_sha256_128);
    auto pkt = packet_of(udp_packet(false, 30));
    REQUIRE(ah_seal(mac, *pkt, 0x1000, 5, false) == AhStatus::ok);
    const Bytes good = bytes_of(*pkt);

    SECTION("truncated packets") {
        for (std::size_t n = 0; n < 20 + 12; ++n) {
            const Bytes cut(good.begin(), good.begin() + static_cast<long>(n));
            CHECK(parse_ah(cut).status == AhStatus::malformed);
        }
    }
    SECTION("a Payload Len below the fixed header or past the packet") {
        Bytes bad = good;
        bad[21] = 0;  // (0 + 2) * 4 = 8 < 12
        CHECK(parse_ah(bad).status == AhStatus::malformed);
        bad[21] = 255;
        CHECK(parse_ah(bad).status == AhStatus::malformed);
    }
    SECTION("an AH too short for the SA's ICV") {
        Bytes bad = good;
        bad[21] = 3;  // 20 octets: room for a 96-bit ICV only
        const AhParsed p = parse_ah(bad);
        REQUIRE(p.status == AhStatus::ok);
        CHECK(ah_verify(mac, bad, p.ah, 5, false) == AhStatus::malformed);
    }
    SECTION("not AH at all") {
        CHECK(parse_ah(udp_packet(false, 30)).status == AhStatus::malformed);
        CHECK(parse_ah(udp_packet(true, 30)).status == AhStatus::malformed);
    }
    SECTION("random bytes") {
        std::mt19937 rng(7);
        for (int round = 0; round < 2000; ++round) {
            Bytes b = good;
            for (int k = 0; k < 3; ++k)
                b[rng() % b.size()] = static_cast<uint8_t>(rng());
            b.resize(rng() % (b.size() + 1));
            const AhParsed p = parse_ah(b);
            if (p.status == AhStatus::ok) {
                CHECK(p.ah.slot.offset + p.ah.length <= b.size());
                (void)ah_verify(mac, b, p.ah, 5, false);
            }
        }
    }
}

TEST_CASE("AH refuses what it cannot authenticate faithfully", "[ah]") {
    auto mac = mac_for(AuthAlg::hmac_sha1_96);
    SECTION("an IPv4 loose source route") {
        Bytes b = udp_packet(false, 10);
        const Bytes opt = {131, 7, 4, 192, 0, 2, 9, 1};  // LSRR + NOP: 8 octets
        b.insert(b.begin() + 20, opt.begin(), opt.end());
        b[0] = 0x47;
        b[3] = static_cast<uint8_t>(b.size());
        fix_ipv4_checksum(b);
        auto pkt = packet_of(b);
        CHECK(ah_seal(mac, *pkt, 0x1000, 1, false) == AhStatus::unsupported);
    }
    SECTION("an IPv6 fragment") {
        Bytes b = udp_packet(true, 10);
        const Bytes frag = {kProtoUdp, 0, 0, 1, 0, 0, 0, 9};
        b.insert(b.begin() + 40, frag.begin(), frag.end());
        b[6] = 44;
        b[5] = static_cast<uint8_t>(b.size() - 40);
        auto pkt = packet_of(b);
        CHECK(ah_seal(mac, *pkt, 0x1000, 1, false) == AhStatus::unsupported);
        CHECK(find_ipsec_slot(b, false).status == SlotStatus::unsupported);
    }
    SECTION("no headroom left") {
        auto full = packet_of(udp_packet(false, 10));
        const Bytes b = bytes_of(*full);
        full->set_view(4, b.size());
        std::copy(b.begin(), b.end(), full->data());
        CHECK(ah_seal(mac, *full, 0x1000, 1, false) == AhStatus::too_big);
    }
}

TEST_CASE("AH goes after the IPv6 extension headers that precede it", "[ah]") {
    // hop-by-hop, routing (segments left 0), destination options: outbound AH goes between the
    // routing header and the destination options, which are for the final destination.
    Bytes b = udp_packet(true, 20);
    const Bytes hbh = {43, 0, 1, 4, 0, 0, 0, 0};
    const Bytes rt = {60, 0, 4, 0, 0, 0, 0, 0};
    const Bytes dst = {kProtoUdp, 0, 1, 4, 0, 0, 0, 0};
    Bytes ext = hbh;
    ext.insert(ext.end(), rt.begin(), rt.end());
    ext.insert(ext.end(), dst.begin(), dst.end());
    b.insert(b.begin() + 40, ext.begin(), ext.end());
    b[6] = 0;
    b[5] = static_cast<uint8_t>(b.size() - 40);

    const SlotFound out = find_ipsec_slot(b, true);
    REQUIRE(out.status == SlotStatus::ok);
    CHECK(out.slot.offset == 56);
    CHECK(out.slot.nh_offset == 48);
    CHECK(out.slot.next_header == 60);
    const SlotFound in = find_ipsec_slot(b, false);
    REQUIRE(in.status == SlotStatus::ok);
    CHECK(in.slot.offset == 64);
    CHECK(in.slot.next_header == kProtoUdp);

    auto tx = mac_for(AuthAlg::hmac_sha256_128);
    auto pkt = packet_of(b);
    REQUIRE(ah_seal(tx, *pkt, 0x1000, 3, false) == AhStatus::ok);
    const Bytes sealed = bytes_of(*pkt);
    CHECK(sealed[48] == kProtoAh);
    CHECK(sealed[56] == 60);  // AH's next header: the destination options
    const AhParsed p = parse_ah(sealed);
    REQUIRE(p.status == AhStatus::ok);
    CHECK(p.ah.slot.offset == 56);
    CHECK(ah_verify(tx, sealed, p.ah, 3, false) == AhStatus::ok);
    ah_remove(*pkt, p.ah);
    CHECK(bytes_of(*pkt) == b);

    // A routing header not yet at its last segment would need the reordering §3.3.3.1.2.2 asks
    // of senders: refused.
    b[51] = 1;
    auto unrouted = packet_of(b);
    CHECK(ah_seal(tx, *unrouted, 0x1000, 4, false) == AhStatus::unsupported);
}
