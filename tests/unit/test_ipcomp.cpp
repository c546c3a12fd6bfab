// IPCOMP (RFC 3173) with DEFLATE (RFC 2394): round trips, the uncompressed fallback, corrupt
// streams, decompression bombs, and packets made by Python's zlib (scapy has no IPComp).

#include <zlib.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/sadb.hpp"
#include "netpath/engine.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"
#include "tests/support/two_gateways.hpp"

#include "tests/support/vectors.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;

using ipsecfs::testing::hex;

std::vector<testing::VectorFields> load_vectors() {
    return testing::load_vector_file("ah/ipcomp_vectors.txt");
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

Bytes text_payload(std::size_t n) {
    static constexpr std::string_view kText = "GET /ipsec/spi HTTP/1.1\r\nHost: gateway\r\n\r\n";
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<uint8_t>(kText[i % kText.size()]);
    return b;
}

Bytes random_payload(std::size_t n, unsigned seed = 1) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& x : b)
        x = static_cast<uint8_t>(rng());
    return b;
}

// An IP packet (protocol 17, no UDP header needed here) carrying payload.
Bytes ip_packet(bool v6, const Bytes& payload) {
    const auto src = *IpAddress::parse(v6 ? "2001:db8::1" : "192.0.2.1");
    const auto dst = *IpAddress::parse(v6 ? "2001:db8::2" : "192.0.2.2");
    Bytes b(40 + payload.size());
    const std::size_t h = write_ip_header(b.data(), src, dst, kProtoUdp, payload.size(), 0);
    b.resize(h);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

// An IP packet with an IPCOMP header and `data` as its compressed payload.
Bytes ipcomp_packet(const Bytes& data, uint16_t cpi = 0x4000) {
    const auto src = *IpAddress::parse("192.0.2.1");
    const auto dst = *IpAddress::parse("192.0.2.2");
    Bytes b(20);
    write_ip_header(b.data(), src, dst, kProtoIpcomp, 4 + data.size(), 0);
    b.insert(b.end(), {kProtoUdp, 0, static_cast<uint8_t>(cpi >> 8), static_cast<uint8_t>(cpi)});
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

// Raw deflate with zlib directly, as another sender would.
Bytes raw_deflate(const Bytes& in, int window_bits = 11) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&z, static_cast<uLong>(in.size())));
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// Raw inflate with a given window, as Linux (2^11) would.
std::optional<Bytes> raw_inflate(std::span<const uint8_t> in, int window_bits) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, -window_bits) == Z_OK);
    Bytes out(70000);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    const int r = inflate(&z, Z_FINISH);
    out.resize(z.total_out);
    inflateEnd(&z);
    if (r != Z_STREAM_END) return std::nullopt;
    return out;
}

}  // namespace

TEST_CASE("parse_ipcomp_header reads next header, flags and CPI", "[ipcomp]") {
    const Bytes h = {0x04, 0x00, 0x12, 0x34, 0xff};
    for (std::size_t n = 0; n < 4; ++n)
        CHECK_FALSE(parse_ipcomp_header(std::span(h).first(n)));
    const auto p = parse_ipcomp_header(h);
    REQUIRE(p);
    CHECK(p->next_header == 4);
    CHECK(p->flags == 0);
    CHECK(p->cpi == 0x1234);
}

TEST_CASE("compressible payloads round trip through IPCOMP", "[ipcomp]") {
    IpcompCodec tx, rx;
    for (const bool v6 : {false, true}) {
        for (const std::size_t len : {90u, 200u, 1400u, 9000u, 65000u}) {
            INFO("v6 " << v6 << " len " << len);
            const Bytes clear = ip_packet(v6, text_payload(len));
            auto pkt = packet_of(clear);
            const IpcompResult c = ipcomp_compress(tx, *pkt, 0x4321);
            REQUIRE(c.status == IpcompStatus::compressed);
            CHECK(c.uncompressed_bytes == len);
            CHECK(c.compressed_bytes + kIpcompHeaderBytes < len);
            const std::size_t hlen = v6 ? 40 : 20;
            CHECK(pkt->size() == hlen + kIpcompHeaderBytes + c.compressed_bytes);
            const auto ip = parse_ip(pkt->bytes());
            REQUIRE(ip);
            CHECK(ip->protocol == kProtoIpcomp);
            CHECK(ip->total_len == pkt->size());
            if (!v6) CHECK(ipv4_checksum(pkt->bytes().first(20)) == 0);
            const auto h = parse_ipcomp_header(pkt->bytes().subspan(hlen));
            REQUIRE(h);
            CHECK(h->next_header == kProtoUdp);
            CHECK(h->flags == 0);
            CHECK(h->cpi == 0x4321);
            // Linux inflates with a 2^11 window: our streams never reach further back.
            const auto linux_view = raw_inflate(pkt->bytes().subspan(hlen + 4), 11);
            REQUIRE(linux_view);
            CHECK(*linux_view == text_payload(len));

            const IpcompResult d = ipcomp_decompress(rx, *pkt);
            REQUIRE(d.status == IpcompStatus::compressed);
            CHECK(d.uncompressed_bytes == c.uncompressed_bytes);
            CHECK(d.compressed_bytes == c.compressed_bytes);
            CHECK(bytes_of(*pkt) == clear);
        }
    }
}

TEST_CASE("payloads that would not shrink go uncompressed, unchanged", "[ipcomp]") {
    IpcompCodec z;
    SECTION("random bytes") {
        for (const std::size_t len : {90u, 1000u, 1400u, 60000u}) {
            const Bytes clear = ip_packet(false, random_payload(len));
            auto pkt = packet_of(clear);
            CHECK(ipcomp_compress(z, *pkt, 0x4000).status == IpcompStatus::uncompressed);
            CHECK(bytes_of(*pkt) == clear);
        }
    }
    SECTION("below the threshold, however compressible") {
        for (const std::size_t len :
             {std::size_t{0}, std::size_t{1}, std::size_t{40}, kIpcompMinPayload - 1}) {
            const Bytes clear = ip_packet(true, Bytes(len, 0));
            auto pkt = packet_of(clear);
            CHECK(ipcomp_compress(z, *pkt, 0x4000).status == IpcompStatus::uncompressed);
            CHECK(bytes_of(*pkt) == clear);
        }
        auto at = packet_of(ip_packet(true, Bytes(kIpcompMinPayload, 0)));
        CHECK(ipcomp_compress(z, *at, 0x4000).status == IpcompStatus::compressed);
    }
    SECTION("a payload that shrinks by less than the header") {
        // Mostly random, a little compressible: deflate saves a few bytes, not enough.
        for (std::size_t zeros = 0; zeros < 40; ++zeros) {
            Bytes payload = random_payload(200, 3);
            std::fill_n(payload.begin(), zeros, 0);
            const Bytes clear = ip_packet(false, payload);
            auto pkt = packet_of(clear);
            const IpcompResult r = ipcomp_compress(z, *pkt, 0x4000);
            if (r.status == IpcompStatus::compressed) {
                CHECK(pkt->size() < clear.size());
            } else {
                CHECK(bytes_of(*pkt) == clear);
            }
        }
    }
}

TEST_CASE("corrupt IPCOMP payloads fail and never write past the packet", "[ipcomp]") {
    IpcompCodec z;
    const Bytes good = raw_deflate(text_payload(1000));
    SECTION("garbage") {
        for (unsigned seed = 0; seed < 200; ++seed) {
            auto pkt = packet_of(ipcomp_packet(random_payload(1 + seed * 7, seed)));
            const IpcompStatus s = ipcomp_decompress(z, *pkt).status;
            // A random stream is almost always corrupt; the rare valid one must still fit.
            if (s == IpcompStatus::compressed)
                CHECK(pkt->size() <= Packet::kMaxData);
            else
                CHECK(s == IpcompStatus::failed);
        }
    }
    SECTION("truncated, empty, or followed by extra bytes") {
        auto cut = packet_of(ipcomp_packet(Bytes(good.begin(), good.end() - 3)));
        CHECK(ipcomp_decompress(z, *cut).status == IpcompStatus::failed);
        auto empty = packet_of(ipcomp_packet({}));
        CHECK(ipcomp_decompress(z, *empty).status == IpcompStatus::failed);
        Bytes trailing = good;
        trailing.push_back(0);
        auto extra = packet_of(ipcomp_packet(trailing));
        CHECK(ipcomp_decompress(z, *extra).status == IpcompStatus::failed);
        // The codec is still good afterwards.
        auto ok = packet_of(ipcomp_packet(good));
        CHECK(ipcomp_decompress(z, *ok).status == IpcompStatus::compressed);
    }
    SECTION("flipped bits") {
        std::size_t failed = 0;
        for (std::size_t i = 0; i < good.size(); ++i) {
            Bytes bad = good;
            bad[i] ^= 0x10;
            auto pkt = packet_of(ipcomp_packet(bad));
            const IpcompStatus s = ipcomp_decompress(z, *pkt).status;
            if (s == IpcompStatus::failed) ++failed;
            CHECK(pkt->size() <= Packet::kMaxData);
        }
        CHECK(failed > 0);
    }
    SECTION("no IPCOMP header") {
        auto pkt = packet_of(ip_packet(false, text_payload(10)));
        CHECK(ipcomp_decompress(z, *pkt).status == IpcompStatus::malformed);
        Bytes b = ipcomp_packet({});
        b.resize(22);
        b[3] = 22;
        auto short_header = packet_of(b);
        CHECK(ipcomp_decompress(z, *short_header).status == IpcompStatus::malformed);
    }
}

TEST_CASE("a decompression bomb stops at the largest IP packet", "[ipcomp]") {
    IpcompCodec z;
    const std::size_t limit = Packet::kMaxData - 20;  // the payload of the largest IPv4 packet
    SECTION("exactly the limit fits") {
        auto pkt = packet_of(ipcomp_packet(raw_deflate(Bytes(limit, 'a'))));
        const IpcompResult r = ipcomp_decompress(z, *pkt);
        REQUIRE(r.status == IpcompStatus::compressed);
        CHECK(pkt->size() == Packet::kMaxData);
        CHECK(r.uncompressed_bytes == limit);
    }
    for (const std::size_t n : {limit + 1, std::size_t{1} << 20, std::size_t{4} << 20}) {
        INFO(n);
        // A few hundred bytes that would inflate to n.
        const Bytes bomb = raw_deflate(Bytes(n, 0));
        CHECK(bomb.size() < n / 500 + 100);
        auto pkt = packet_of(ipcomp_packet(bomb));
        CHECK(ipcomp_decompress(z, *pkt).status == IpcompStatus::failed);
    }
}

TEST_CASE("IPCOMP packets made by Python's zlib decompress to what went in", "[ipcomp]") {
    const auto vectors = load_vectors();
    REQUIRE(vectors.size() >= 4);
    IpcompCodec z;
    bool big_window = false;
    for (const auto& v : vectors) {
        INFO(v.at("name"));
        auto pkt = packet_of(hex(v.at("packet")));
        const IpcompResult r = ipcomp_decompress(z, *pkt);
        REQUIRE(r.status == IpcompStatus::compressed);
        CHECK(bytes_of(*pkt) == hex(v.at("input")));
        big_window = big_window || v.at("window_bits") == "15";

        // And what we make of the same input decompresses at both window sizes.
        auto again = packet_of(hex(v.at("input")));
        const IpcompResult c =
            ipcomp_compress(z, *again, static_cast<uint16_t>(std::stoul(v.at("cpi"))));
        if (c.status == IpcompStatus::compressed) {
            const std::size_t hlen = (again->data()[0] >> 4) == 4 ? 20 : 40;
            CHECK(again->data()[hlen + 2] == hex(v.at("packet"))[hlen + 2]);  // CPI
            CHECK(raw_inflate(again->bytes().subspan(hlen + 4), 11));
        } else {
            CHECK(v.at("window_bits") == "15");  // only a 2^15 window finds those repeats
        }
    }
    CHECK(big_window);
}

TEST_CASE("one codec serves packet after packet", "[ipcomp]") {
    IpcompCodec z;
    for (int i = 0; i < 200; ++i) {
        const Bytes clear =
            ip_packet(i % 2 == 0, text_payload(100 + static_cast<std::size_t>(i) * 37));
        auto pkt = packet_of(clear);
        REQUIRE(ipcomp_compress(z, *pkt, 0x4000).status == IpcompStatus::compressed);
        REQUIRE(ipcomp_decompress(z, *pkt).status == IpcompStatus::compressed);
        CHECK(bytes_of(*pkt) == clear);
    }
}

TEST_CASE("an IPCOMP SA's CPI must fit 16 bits", "[ipcomp]") {
    auto gw = ipsecfs::testing::make_gateway("192.0.2.1");
    auto add = [&](const std::string& said) {
        auto cmd = parse_command(std::vector<std::string>{"spi", "--said", said, "--src",
                                                          "192.0.2.1", "--comp", "deflate"});
        REQUIRE(cmd.ok());
        return gw.sadb->apply(*cmd);
    };
    CHECK(add("comp.100@192.0.2.2").ok());
    CHECK(add("comp.ffff@192.0.2.2").ok());
    const auto r = add("comp.10000@192.0.2.2");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("16 bits"));
    CHECK(gw.sadb->snapshot()->find(*Said::parse("comp.10000@192.0.2.2")) == nullptr);
}
