// Userspace GSO: TCP super-packets as the kernel hands them over a TUN with IFF_VNET_HDR cut into
// segments (lengths, IDs, sequence numbers, flags, checksums against a naive RFC 1071 sum),
// partial checksums completed, and malformed or unsupported input refused without writing.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <utility>
#include <vector>

#include "netpath/byte_order.hpp"
#include "netpath/gso_split.hpp"
#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/packet.hpp"
#include "netpath/vnet_header.hpp"
#include "tests/support/reference_checksum.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;

uint16_t reference_fold(const Bytes& b) {
    return testing::fold(testing::sum16(b.data(), b.size()));
}

constexpr uint8_t kFin = 0x01;
constexpr uint8_t kPsh = 0x08;
constexpr uint8_t kAck = 0x10;
constexpr uint8_t kEce = 0x40;
constexpr uint8_t kCwr = 0x80;
constexpr uint8_t kProtoIcmpv6 = 58;

struct Flow {
    bool v4 = true;
    std::size_t ip_options = 0;   // IPv4 only, multiple of 4
    std::size_t tcp_options = 0;  // multiple of 4
    uint16_t id = 0x1234;
    uint32_t seq = 1000;
    uint8_t flags = kAck | kPsh;
    uint8_t protocol = kProtoTcp;
};

Bytes payload_of(std::size_t n) {
    Bytes p(n);
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<uint8_t>(i * 7 + i / 251 + 3);
    return p;
}

// The pseudo header (RFC 9293 §3.1, RFC 8200 §8.1) followed by the transport bytes of pkt.
Bytes pseudo_and_transport(const Bytes& pkt, std::size_t ip_len, uint8_t protocol) {
    const std::size_t len = pkt.size() - ip_len;
    const bool v4 = (pkt[0] >> 4) == 4;
    const std::size_t addr_at = v4 ? 12 : 8;
    const std::size_t addr_len = v4 ? 8 : 32;
    const std::size_t pseudo_len = addr_len + (v4 ? 4 : 8);
    Bytes b(pseudo_len + len, 0);
    std::memcpy(b.data(), &pkt[addr_at], addr_len);
    if (v4) {  // zero, protocol, 16-bit length
        b[9] = protocol;
        put_be16(&b[10], len);
    } else {  // 32-bit length, three zeros, next header
        put_be32(&b[32], static_cast<uint32_t>(len));
        b[39] = protocol;
    }
    std::memcpy(b.data() + pseudo_len, pkt.data() + ip_len, len);
    return b;
}

bool transport_checksum_ok(const Bytes& pkt, std::size_t ip_len, uint8_t protocol) {
    return reference_fold(pseudo_and_transport(pkt, ip_len, protocol)) == 0xffff;
}

// The pseudo-header sum the kernel leaves in the checksum field with CHECKSUM_PARTIAL.
uint16_t partial_sum(const Bytes& pkt, std::size_t ip_len, uint8_t protocol) {
    Bytes pseudo = pseudo_and_transport(pkt, ip_len, protocol);
    pseudo.resize(pseudo.size() - (pkt.size() - ip_len));
    return reference_fold(pseudo);
}

std::size_t ip_len_of(const Flow& f) {
    return f.v4 ? 20 + f.ip_options : 40;
}

// An IP packet with a transport header of header_len bytes (zeroed) and payload after it.
Bytes build_ip(const Flow& f, std::size_t header_len, const Bytes& payload) {
    const std::size_t ip_len = ip_len_of(f);
    Bytes p(ip_len + header_len);
    if (f.v4) {
        p[0] = static_cast<uint8_t>(0x40 | ip_len / 4);
        p[1] = 0x02;
        put_be16(&p[2], p.size() + payload.size());
        put_be16(&p[4], f.id);
        put_be16(&p[6], 0x4000);
        p[8] = 64;
        p[9] = f.protocol;
        const uint8_t addrs[] = {192, 0, 2, 1, 198, 51, 100, 2};
        std::copy(std::begin(addrs), std::end(addrs), p.begin() + 12);
        std::fill(p.begin() + 20, p.begin() + static_cast<std::ptrdiff_t>(ip_len), 0x01);
        put_be16(&p[10], ipv4_checksum({p.data(), ip_len}));
    } else {
        p[0] = 0x62;
        p[1] = 0x34;
        p[3] = 0x56;
        put_be16(&p[4], header_len + payload.size());
        p[6] = f.protocol;
        p[7] = 64;
        const uint8_t addrs[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        std::copy(std::begin(addrs), std::end(addrs), p.begin() + 8);
    }
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

// A TCP packet as the kernel leaves it with CHECKSUM_PARTIAL: the checksum field holds the
// pseudo-header sum over the whole TCP length.
Bytes build_tcp(const Flow& f, const Bytes& payload) {
    const std::size_t ip_len = ip_len_of(f);
    const std::size_t tcp_len = 20 + f.tcp_options;
    Bytes p = build_ip(f, tcp_len, payload);
    uint8_t* th = &p[ip_len];
    put_be16(&th[0], 40000);
    put_be16(&th[2], 443);
    put_be32(&th[4], f.seq);
    put_be32(&th[8], 0x01020304);
    th[12] = static_cast<uint8_t>(tcp_len / 4 << 4);
    th[13] = f.flags;
    put_be16(&th[14], 0xfff0);
    put_be16(&th[18], 0x0007);
    std::fill(th + 20, th + tcp_len, 0x01);
    put_be16(&th[16], partial_sum(p, ip_len, kProtoTcp));
    return p;
}

VnetHeader gso_header(const Flow& f, uint16_t gso_size, bool ecn = false) {
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.gso_type = f.v4 ? VnetHeader::kGsoTcpV4 : VnetHeader::kGsoTcpV6;
    if (ecn) h.gso_type |= VnetHeader::kGsoEcn;
    h.gso_size = gso_size;
    h.hdr_len = static_cast<uint16_t>(ip_len_of(f) + 20 + f.tcp_options);
    h.csum_start = static_cast<uint16_t>(ip_len_of(f));
    h.csum_offset = 16;
    return h;
}

VnetHeader csum_header(std::size_t csum_start, std::size_t csum_offset) {
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.csum_start = static_cast<uint16_t>(csum_start);
    h.csum_offset = static_cast<uint16_t>(csum_offset);
    return h;
}

Bytes bytes_of(const Packet* p) {
    return Bytes(p->data(), p->data() + p->size());
}

constexpr std::size_t kUntouched = 7;

void mark_untouched(PacketPool& pool) {
    for (Packet* p : pool.all())
        p->set_size(kUntouched);
}

bool all_untouched(PacketPool& pool) {
    return std::all_of(pool.all().begin(), pool.all().end(),
                       [](const Packet* p) { return p->size() == kUntouched; });
}

// Splits and checks every segment against the super-packet and the RFCs.
void check_split(const Flow& f, const Bytes& payload, uint16_t gso_size, bool ecn = false) {
    const Bytes super = build_tcp(f, payload);
    const VnetHeader h = gso_header(f, gso_size, ecn);
    const std::size_t ip_len = ip_len_of(f);
    const std::size_t hdr_len = ip_len + 20 + f.tcp_options;
    const std::size_t n = std::max<std::size_t>(1, (payload.size() + gso_size - 1) / gso_size);

    REQUIRE(gso_segments_needed(h, super) == n);
    PacketPool pool(n + 2);
    mark_untouched(pool);
    const SplitResult r = gso_split(h, super, pool.all());
    REQUIRE(r.status == SplitStatus::ok);
    REQUIRE(r.count == n);
    CHECK(pool.all()[n]->size() == kUntouched);

    Bytes joined;
    for (std::size_t i = 0; i < n; ++i) {
        INFO("segment " << i << " of " << n);
        const Bytes seg = bytes_of(pool.all()[i]);
        const std::size_t len = std::min<std::size_t>(gso_size, payload.size() - i * gso_size);
        REQUIRE(seg.size() == hdr_len + len);
        CHECK(pool.all()[i]->headroom() == Packet::kHeadroom);
        if (f.v4) {
            CHECK(get_be16(&seg[2]) == seg.size());
            CHECK(get_be16(&seg[4]) == static_cast<uint16_t>(f.id + i));
            CHECK(ipv4_checksum({seg.data(), ip_len}) == 0);
            CHECK(std::equal(seg.begin() + 6, seg.begin() + 10, super.begin() + 6));
            CHECK(std::equal(seg.begin() + 12, seg.begin() + static_cast<std::ptrdiff_t>(ip_len),
                             super.begin() + 12));
        } else {
            CHECK(get_be16(&seg[4]) == seg.size() - 40);
            CHECK(std::equal(seg.begin(), seg.begin() + 4, super.begin()));
            CHECK(std::equal(seg.begin() + 6, seg.begin() + 40, super.begin() + 6));
        }
        const uint8_t* th = &seg[ip_len];
        CHECK(get_be32(&th[4]) == static_cast<uint32_t>(f.seq + i * gso_size));
        uint8_t flags = f.flags;
        if (i + 1 < n) flags = static_cast<uint8_t>(flags & ~(kFin | kPsh));
        if (i > 0) flags = static_cast<uint8_t>(flags & ~kCwr);
        CHECK(th[13] == flags);
        CHECK(std::equal(th, th + 4, &super[ip_len]));
        CHECK(std::equal(th + 8, th + 13, &super[ip_len + 8]));
        CHECK(std::equal(th + 14, th + 16, &super[ip_len + 14]));
        CHECK(std::equal(th + 18, th + 20 + f.tcp_options, &super[ip_len + 18]));
        CHECK(transport_checksum_ok(seg, ip_len, kProtoTcp));
        joined.insert(joined.end(), seg.begin() + static_cast<std::ptrdiff_t>(hdr_len), seg.end());
    }
    CHECK(joined == payload);
}

}  // namespace

TEST_CASE("gso_split cuts an IPv4 super-packet into full segments", "[gso]") {
    Flow f;
    f.id = 0xfffe;  // wraps
    f.seq = 0xfffffc00;
    f.flags = kAck | kPsh | kFin;
    check_split(f, payload_of(3 * 1448), 1448);
}

TEST_CASE("gso_split gives a short last segment and copies IPv4 and TCP options", "[gso]") {
    Flow f;
    f.ip_options = 8;
    f.tcp_options = 12;
    check_split(f, payload_of(2 * 1000 + 501), 1000);
}

TEST_CASE("gso_split cuts IPv6 super-packets", "[gso]") {
    Flow f;
    f.v4 = false;
    f.seq = 0xffffffff;
    f.tcp_options = 12;
    SECTION("short odd last segment") {
        check_split(f, payload_of(2 * 1440 + 121), 1440);
    }
    SECTION("exact multiple") {
        check_split(f, payload_of(4 * 1428), 1428);
    }
    SECTION("odd gso_size") {
        check_split(f, payload_of(1001), 333);
    }
}

TEST_CASE("gso_split puts CWR on the first segment only and keeps ECE (TSO_ECN)", "[gso]") {
    Flow f;
    f.flags = kAck | kPsh | kCwr | kEce;
    check_split(f, payload_of(5000), 1448, true);
    f.v4 = false;
    check_split(f, payload_of(5000), 1448, true);
}

TEST_CASE("gso_split gives one packet when the payload fits one segment", "[gso]") {
    Flow f;
    f.flags = kAck | kPsh | kFin | kCwr;
    check_split(f, payload_of(500), 1448);
    check_split(f, payload_of(1448), 1448);
    check_split(f, {}, 1448);
    f.v4 = false;
    check_split(f, payload_of(1), 1448);
}

TEST_CASE("gso_split handles 64 KB super-packets", "[gso]") {
    Flow f;
    f.tcp_options = 12;
    check_split(f, payload_of(65535 - 52), 1448);
    f.v4 = false;
    // 65575 bytes with the IPv6 header: more than a Packet holds, its segments fit.
    check_split(f, payload_of(65535 - 32), 1428);
    check_split(f, payload_of(100), 1);

    const Bytes super = build_tcp(f, payload_of(65535 - 32));
    PacketPool pool(1);
    mark_untouched(pool);
    CHECK(gso_segments_needed(gso_header(f, 65535), super) == 0);
    CHECK(gso_split(gso_header(f, 65535), super, pool.all()).status == SplitStatus::unsupported);
    CHECK(all_untouched(pool));
}

TEST_CASE("complete_checksum finishes TCP, UDP and ICMPv6 checksums", "[gso]") {
    SECTION("TCP over IPv4, through gso_split") {
        Flow f;
        Bytes pkt = build_tcp(f, payload_of(777));
        const VnetHeader h = csum_header(20, 16);
        CHECK(!transport_checksum_ok(pkt, 20, kProtoTcp));
        REQUIRE(gso_segments_needed(h, pkt) == 1);
        PacketPool pool(2);
        mark_untouched(pool);
        const SplitResult r = gso_split(h, pkt, pool.all());
        REQUIRE(r.status == SplitStatus::ok);
        REQUIRE(r.count == 1);
        CHECK(pool.all()[1]->size() == kUntouched);
        const Bytes out = bytes_of(pool.all()[0]);
        CHECK(transport_checksum_ok(out, 20, kProtoTcp));

        REQUIRE(complete_checksum(h, pkt));
        CHECK(out == pkt);
    }
    SECTION("UDP over IPv6, odd length") {
        Flow f;
        f.v4 = false;
        f.protocol = kProtoUdp;
        Bytes pkt = build_ip(f, 8, payload_of(101));
        put_be16(&pkt[40], 4500);
        put_be16(&pkt[42], 4500);
        put_be16(&pkt[44], pkt.size() - 40);
        put_be16(&pkt[46], partial_sum(pkt, 40, kProtoUdp));
        REQUIRE(complete_checksum(csum_header(40, 6), pkt));
        CHECK(transport_checksum_ok(pkt, 40, kProtoUdp));
    }
    SECTION("UDP over IPv4 whose checksum computes to 0 is sent as 0xffff") {
        Flow f;
        f.protocol = kProtoUdp;
        Bytes pkt = build_ip(f, 8, payload_of(64));
        put_be16(&pkt[20], 4500);
        put_be16(&pkt[22], 500);
        put_be16(&pkt[24], pkt.size() - 20);
        // Make the folded sum of pseudo header and datagram 0xffff with the last payload word.
        put_be16(&pkt[pkt.size() - 2], 0);
        const uint16_t s = reference_fold(pseudo_and_transport(pkt, 20, kProtoUdp));
        put_be16(&pkt[pkt.size() - 2], 0xffff - s);
        REQUIRE(reference_fold(pseudo_and_transport(pkt, 20, kProtoUdp)) == 0xffff);
        put_be16(&pkt[26], partial_sum(pkt, 20, kProtoUdp));
        REQUIRE(complete_checksum(csum_header(20, 6), pkt));
        CHECK(get_be16(&pkt[26]) == 0xffff);
        CHECK(transport_checksum_ok(pkt, 20, kProtoUdp));
    }
    SECTION("ICMPv6 echo request") {
        Flow f;
        f.v4 = false;
        f.protocol = kProtoIcmpv6;
        Bytes pkt = build_ip(f, 8, payload_of(56));
        pkt[40] = 128;
        put_be16(&pkt[44], 0x4242);
        put_be16(&pkt[46], 1);
        put_be16(&pkt[42], partial_sum(pkt, 40, kProtoIcmpv6));
        REQUIRE(complete_checksum(csum_header(40, 2), pkt));
        CHECK(transport_checksum_ok(pkt, 40, kProtoIcmpv6));
    }
    SECTION("without NEEDS_CSUM the packet is copied as it is") {
        Flow f;
        const Bytes pkt = build_tcp(f, payload_of(100));
        Bytes same = pkt;
        CHECK(complete_checksum(VnetHeader{}, same));
        CHECK(same == pkt);
        PacketPool pool(1);
        const SplitResult r = gso_split(VnetHeader{}, pkt, pool.all());
        REQUIRE(r.status == SplitStatus::ok);
        REQUIRE(r.count == 1);
        CHECK(bytes_of(pool.all()[0]) == pkt);
    }
}

TEST_CASE("complete_checksum refuses a checksum field beyond the packet", "[gso]") {
    Flow f;
    const Bytes pkt = build_tcp(f, payload_of(10));  // 50 bytes
    PacketPool pool(1);
    const std::pair<int, int> fields[] = {{20, 30}, {49, 0},     {50, 0},
                                          {0, 49},  {65535, 16}, {65535, 65535}};
    for (const auto& [start, offset] : fields) {
        INFO("csum_start " << start << " csum_offset " << offset);
        const VnetHeader h = csum_header(start, offset);
        Bytes copy = pkt;
        CHECK(!complete_checksum(h, copy));
        CHECK(copy == pkt);
        CHECK(gso_segments_needed(h, pkt) == 0);
        mark_untouched(pool);
        CHECK(gso_split(h, pkt, pool.all()).status == SplitStatus::malformed);
        CHECK(all_untouched(pool));
    }
    Bytes copy = pkt;
    CHECK(complete_checksum(csum_header(0, 48), copy));  // the last two bytes
    PacketPool none(0);
    CHECK(gso_split(VnetHeader{}, Bytes{}, pool.all()).status == SplitStatus::malformed);
    CHECK(gso_split(VnetHeader{}, pkt, none.all()).status == SplitStatus::unsupported);
}

TEST_CASE("gso_split refuses malformed super-packets without writing", "[gso]") {
    Flow f;
    Bytes super = build_tcp(f, payload_of(3000));
    VnetHeader h = gso_header(f, 1000);
    PacketPool pool(8);
    auto bad = [&](const Bytes& pkt, const VnetHeader& vh) {
        Bytes exact(pkt);  // exactly sized, so ASan sees any read past it
        mark_untouched(pool);
        CHECK(gso_segments_needed(vh, exact) == 0);
        CHECK(gso_split(vh, exact, pool.all()).status == SplitStatus::malformed);
        CHECK(all_untouched(pool));
    };

    SECTION("truncated anywhere") {
        for (std::size_t n = 0; n < super.size(); ++n)
            bad(Bytes(super.begin(), super.begin() + static_cast<std::ptrdiff_t>(n)), h);
    }
    SECTION("total length matches but the TCP header is cut") {
        Bytes p(super.begin(), super.begin() + 30);
        put_be16(&p[2], 30);
        bad(p, h);
    }
    SECTION("IPv4 total length beyond the buffer") {
        put_be16(&super[2], super.size() + 1);
        bad(super, h);
    }
    SECTION("IPv4 total length short of the buffer") {
        put_be16(&super[2], super.size() - 1);
        bad(super, h);
    }
    SECTION("IHL below 5 or beyond the packet") {
        super[0] = 0x44;
        bad(super, h);
        Bytes p = build_tcp(f, {});
        p[0] = 0x4f;
        bad(p, h);
    }
    SECTION("TCP data offset beyond the packet") {
        Bytes p = build_tcp(f, payload_of(10));
        p[32] = 0xf0;
        bad(p, h);
    }
    SECTION("TCP data offset below 5") {
        super[32] = 0x40;
        bad(super, h);
    }
    SECTION("gso_size 0") {
        h.gso_size = 0;
        bad(super, h);
    }
    SECTION("csum_start or csum_offset not the TCP checksum") {
        h.csum_start = 5000;
        bad(super, h);
        h.csum_start = 0;
        bad(super, h);
        h.csum_start = 20;
        h.csum_offset = 6;
        bad(super, h);
    }
    SECTION("not TCP") {
        super[9] = kProtoUdp;
        bad(super, h);
    }
    SECTION("IPv4 fragment") {
        put_be16(&super[6], 0x2000);
        bad(super, h);
        put_be16(&super[6], 0x0001);
        bad(super, h);
    }
    SECTION("IP version and gso_type disagree") {
        f.v4 = false;
        bad(super, gso_header(f, 1000));
        bad(build_tcp(f, payload_of(3000)), h);
    }
    SECTION("IPv6 payload length and buffer disagree") {
        f.v4 = false;
        Bytes p = build_tcp(f, payload_of(3000));
        put_be16(&p[4], get_be16(&p[4]) + 1);
        bad(p, gso_header(f, 1000));
        put_be16(&p[4], 0);
        bad(p, gso_header(f, 1000));
        Bytes udp = build_tcp(f, payload_of(3000));
        udp[6] = kProtoUdp;
        bad(udp, gso_header(f, 1000));
    }
}

TEST_CASE("gso_split refuses what it does not do without writing", "[gso]") {
    Flow f;
    const Bytes super = build_tcp(f, payload_of(3000));
    PacketPool pool(8);
    auto unsupported = [&](const Bytes& pkt, const VnetHeader& vh, std::size_t out_size) {
        mark_untouched(pool);
        CHECK(gso_split(vh, pkt, pool.all().first(out_size)).status == SplitStatus::unsupported);
        CHECK(all_untouched(pool));
    };
    for (uint8_t type : {VnetHeader::kGsoUdp, uint8_t{2}, uint8_t{0x7f}, VnetHeader::kGsoEcn,
                         uint8_t{VnetHeader::kGsoUdp | 0x80}}) {
        INFO("gso_type " << int(type));
        VnetHeader h = gso_header(f, 1000);
        h.gso_type = type;
        CHECK(gso_segments_needed(h, super) == 0);
        unsupported(super, h, 8);
    }
    SECTION("USO over a TCP packet is malformed, not unsupported") {
        VnetHeader h = gso_header(f, 1000);
        h.gso_type = VnetHeader::kGsoUdpL4;
        CHECK(gso_segments_needed(h, super) == 0);
        mark_untouched(pool);
        CHECK(gso_split(h, super, pool.all()).status == SplitStatus::malformed);
        CHECK(all_untouched(pool));
    }
    SECTION("fewer output packets than segments") {
        const VnetHeader h = gso_header(f, 1000);
        REQUIRE(gso_segments_needed(h, super) == 3);
        unsupported(super, h, 2);
    }
    SECTION("IPv6 extension header before TCP") {
        f.v4 = false;
        Bytes p = build_tcp(f, payload_of(3000));
        p[6] = 0;  // hop-by-hop
        CHECK(gso_segments_needed(gso_header(f, 1000), p) == 0);
        unsupported(p, gso_header(f, 1000), 8);
        p[6] = 44;  // fragment
        unsupported(p, gso_header(f, 1000), 8);
    }
}

TEST_CASE("gso_split on mutated headers never misreads and keeps its promises", "[gso]") {
    std::mt19937 rng(20240607);
    PacketPool pool(16);
    for (int round = 0; round < 2000; ++round) {
        Flow f;
        f.v4 = round % 2 == 0;
        f.tcp_options = 4 * (rng() % 4);
        Bytes pkt = build_tcp(f, payload_of(rng() % 3000));
        VnetHeader h = gso_header(f, static_cast<uint16_t>(1 + rng() % 1500), rng() % 2 == 0);
        const std::size_t mutations = 1 + rng() % 3;
        for (std::size_t m = 0; m < mutations; ++m)
            pkt[rng() % std::min<std::size_t>(pkt.size(), 80)] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) h.csum_start = static_cast<uint16_t>(rng() % 100);
        if (rng() % 8 == 0) pkt.resize(rng() % pkt.size());
        pkt.shrink_to_fit();

        const std::size_t needed = gso_segments_needed(h, pkt);
        const SplitResult r = gso_split(h, pkt, pool.all());
        INFO("round " << round);
        if (needed == 0 || needed > pool.all().size()) {
            CHECK(r.status == (needed == 0 ? r.status : SplitStatus::unsupported));
            CHECK(r.status != SplitStatus::ok);
            continue;
        }
        REQUIRE(r.status == SplitStatus::ok);
        REQUIRE(r.count == needed);
        const std::size_t ip_len = f.v4 ? (pkt[0] & 0x0fu) * 4u : 40;
        std::size_t total = 0;
        for (std::size_t i = 0; i < r.count; ++i) {
            const Bytes seg = bytes_of(pool.all()[i]);
            total += seg.size();
            if (f.v4) CHECK(ipv4_checksum({seg.data(), ip_len}) == 0);
            CHECK(transport_checksum_ok(seg, ip_len, kProtoTcp));
        }
        const std::size_t hdr_len = ip_len + (pkt[ip_len + 12] >> 4) * 4u;
        CHECK(total - r.count * hdr_len == pkt.size() - hdr_len);
    }
}

TEST_CASE("gso_split cuts a super-packet a window at a time", "[gso]") {
    Flow f;
    f.v4 = GENERATE(true, false);
    f.flags = kAck | kPsh | kFin | kCwr;
    const Bytes super = build_tcp(f, payload_of(5 * 1000 + 1));  // 6 segments
    const VnetHeader h = gso_header(f, 1000);
    PacketPool whole(6);
    REQUIRE(gso_split(h, super, whole.all()).count == 6);

    const std::size_t window = GENERATE(1, 2, 4, 6, 8);
    PacketPool pool(window);
    std::size_t next = 0;
    for (int calls = 0; next < 6 && calls < 10; ++calls) {
        mark_untouched(pool);
        const SplitResult r = gso_split(h, super, pool.all(), next);
        REQUIRE(r.status == SplitStatus::ok);
        REQUIRE(r.count == std::min<std::size_t>(window, 6 - next));
        for (std::size_t i = 0; i < r.count; ++i)
            CHECK(bytes_of(pool.all()[i]) == bytes_of(whole.all()[next + i]));
        for (std::size_t i = r.count; i < window; ++i)
            CHECK(pool.all()[i]->size() == kUntouched);
        next += r.count;
    }
    CHECK(next == 6);
    mark_untouched(pool);
    CHECK(gso_split(h, super, pool.all(), 6).count == 0);
    CHECK(all_untouched(pool));

    Bytes cut = super;
    cut.pop_back();
    cut.shrink_to_fit();
    CHECK(gso_split(h, cut, pool.all(), 2).status == SplitStatus::malformed);
    CHECK(all_untouched(pool));
}
