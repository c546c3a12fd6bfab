// Userspace TCP GRO for the TUN write path: which segments merge into a super-packet, the
// super-packet's headers and virtio-net header, and everything that must pass unmerged.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "netpath/byte_order.hpp"
#include "netpath/gso_split.hpp"
#include "netpath/packet.hpp"
#include "netpath/tcp_coalesce.hpp"
#include "netpath/vnet_header.hpp"
#include "tests/support/reference_checksum.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;
using ipsecfs::testing::fold;
using ipsecfs::testing::sum16;

constexpr uint8_t kFin = 0x01;
constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kRst = 0x04;
constexpr uint8_t kPsh = 0x08;
constexpr uint8_t kAck = 0x10;
constexpr std::size_t kMss = 1448;

bool is_v4(const Bytes& b) {
    return (b[0] >> 4) == 4;
}

std::size_t ip_len_of(const Bytes& b) {
    return is_v4(b) ? (b[0] & 0x0fu) * 4u : 40;
}

uint64_t pseudo_sum(const Bytes& b, std::size_t l4_len) {
    const std::size_t at = is_v4(b) ? 12 : 8;
    const std::size_t n = is_v4(b) ? 8 : 32;
    return sum16(b.data() + at, n) + 6 + (l4_len >> 16) + (l4_len & 0xffff);
}

bool tcp_checksum_ok(const Bytes& b) {
    const std::size_t ip = ip_len_of(b);
    return fold(sum16(b.data() + ip, b.size() - ip, pseudo_sum(b, b.size() - ip))) == 0xffff;
}

bool ipv4_header_ok(const Bytes& b) {
    return fold(sum16(b.data(), ip_len_of(b))) == 0xffff;
}

struct Flow {
    bool v6 = false;
    uint8_t src_last = 1;
    uint16_t sport = 40000;
    uint16_t dport = 443;
    uint32_t seq = 0x10000000;
    uint32_t ack = 0x20000000;
    uint16_t window = 501;
    uint32_t tsval = 1000;
    bool timestamps = true;
    uint8_t tos = 0;
    uint8_t ttl = 63;
    uint16_t ip_id = 0x1234;
    uint8_t payload_seed = 0;
};

// One segment as a TCP sender with TSO off would put it on the wire.
Bytes segment(Flow& f, std::size_t payload_len, uint8_t flags = kAck) {
    const std::size_t ip = f.v6 ? 40 : 20;
    const std::size_t tcp = f.timestamps ? 32 : 20;
    Bytes b(ip + tcp + payload_len);
    uint8_t* p = b.data();
    if (f.v6) {
        p[0] = static_cast<uint8_t>(0x60 | f.tos >> 4);
        p[1] = static_cast<uint8_t>(f.tos << 4 | 0x0a);
        p[2] = 0xbc;
        p[3] = 0xde;
        put_be16(p + 4, b.size() - ip);
        p[6] = 6;
        p[7] = f.ttl;
        const std::array<uint8_t, 16> src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, f.src_last};
        const std::array<uint8_t, 16> dst{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 9};
        std::copy(src.begin(), src.end(), p + 8);
        std::copy(dst.begin(), dst.end(), p + 24);
    } else {
        p[0] = 0x45;
        p[1] = f.tos;
        put_be16(p + 2, b.size());
        put_be16(p + 4, f.ip_id++);
        p[6] = 0x40;  // DF
        p[8] = f.ttl;
        p[9] = 6;
        const std::array<uint8_t, 8> addrs{192, 0, 2, f.src_last, 198, 51, 100, 9};
        std::copy(addrs.begin(), addrs.end(), p + 12);
        put_be16(p + 10, static_cast<uint16_t>(~fold(sum16(p, 20))));
    }
    uint8_t* t = p + ip;
    put_be16(t, f.sport);
    put_be16(t + 2, f.dport);
    put_be32(t + 4, f.seq);
    put_be32(t + 8, f.ack);
    t[12] = static_cast<uint8_t>(tcp / 4 << 4);
    t[13] = flags;
    put_be16(t + 14, f.window);
    if (f.timestamps) {
        t[20] = 1;  // NOP, NOP, timestamps (RFC 7323 §3)
        t[21] = 1;
        t[22] = 8;
        t[23] = 10;
        put_be32(t + 24, f.tsval);
        put_be32(t + 28, 77777);
    }
    for (std::size_t i = 0; i < payload_len; ++i)
        t[tcp + i] = static_cast<uint8_t>((f.seq + i) * 7 + f.payload_seed);
    put_be16(t + 16,
             static_cast<uint16_t>(~fold(sum16(t, b.size() - ip, pseudo_sum(b, b.size() - ip)))));
    f.seq += static_cast<uint32_t>(payload_len) + ((flags & (kSyn | kFin)) ? 1 : 0);
    return b;
}

std::vector<Bytes> stream(Flow& f, std::size_t n, std::size_t len = kMss) {
    std::vector<Bytes> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(segment(f, len));
    return out;
}

Bytes udp_packet() {
    Bytes b(20 + 8 + 100, 0x5a);
    b[0] = 0x45;
    b[1] = 0;
    put_be16(b.data() + 2, b.size());
    b[6] = 0x40;
    b[8] = 64;
    b[9] = 17;
    const std::array<uint8_t, 8> addrs{192, 0, 2, 1, 198, 51, 100, 9};
    std::copy(addrs.begin(), addrs.end(), b.begin() + 12);
    b[10] = b[11] = 0;
    put_be16(b.data() + 10, static_cast<uint16_t>(~fold(sum16(b.data(), 20))));
    put_be16(b.data() + 24, 8 + 100);
    b[26] = b[27] = 0;
    return b;
}

Bytes icmp_echo() {
    Bytes b = udp_packet();
    b[9] = 1;
    b[10] = b[11] = 0;
    put_be16(b.data() + 10, static_cast<uint16_t>(~fold(sum16(b.data(), 20))));
    return b;
}

void fix_ipv4_header(Bytes& b) {
    b[10] = b[11] = 0;
    put_be16(b.data() + 10, static_cast<uint16_t>(~fold(sum16(b.data(), ip_len_of(b)))));
}

// The batch as the inbound worker hands it over, plus what went in.
struct Batch {
    std::vector<std::unique_ptr<Packet>> storage;
    std::vector<Packet*> pointers;
    std::vector<Bytes> originals;

    explicit Batch(const std::vector<Bytes>& packets) : originals(packets) {
        for (const Bytes& b : packets) {
            auto p = std::make_unique<Packet>();
            auto area = p->reset();
            std::copy(b.begin(), b.end(), area.begin());
            p->set_size(b.size());
            pointers.push_back(p.get());
            storage.push_back(std::move(p));
        }
    }
    std::vector<TunWrite> coalesce() {
        std::vector<TunWrite> out;
        out.push_back(TunWrite{nullptr, VnetHeader{}});  // must be cleared
        coalesce_tcp(pointers, out);
        return out;
    }
};

Bytes bytes_of(const Packet* p) {
    return {p->data(), p->data() + p->size()};
}

void check_unmerged(const TunWrite& w, const Bytes& original) {
    CHECK(bytes_of(w.packet) == original);
    CHECK(w.vnet.flags == 0);
    CHECK(w.vnet.gso_type == 0);
    CHECK(w.vnet.hdr_len == 0);
    CHECK(w.vnet.gso_size == 0);
    CHECK(w.vnet.csum_start == 0);
    CHECK(w.vnet.csum_offset == 0);
}

// The super-packet made of `segments` (in order): headers, virtio-net header, payload, and the
// partial checksum.
void check_super(const TunWrite& w, const std::vector<Bytes>& segments) {
    REQUIRE(segments.size() >= 2);
    const Bytes& first = segments.front();
    const Bytes got = bytes_of(w.packet);
    const std::size_t ip = ip_len_of(first);
    const std::size_t tcp = (first[ip + 12] >> 4) * 4u;
    const std::size_t hdr = ip + tcp;
    Bytes payload;
    for (const Bytes& s : segments)
        payload.insert(payload.end(), s.begin() + static_cast<std::ptrdiff_t>(hdr), s.end());
    REQUIRE(got.size() == hdr + payload.size());
    CHECK(got.size() <= (is_v4(first) ? 65535u : 65535u + 40u));
    CHECK(Bytes(got.begin() + static_cast<std::ptrdiff_t>(hdr), got.end()) == payload);

    if (is_v4(first)) {
        CHECK(get_be16(&got[2]) == got.size());
        CHECK(ipv4_header_ok(got));
        Bytes a(got.begin(), got.begin() + 20), b(first.begin(), first.begin() + 20);
        for (std::size_t i : {2, 3, 10, 11})
            a[i] = b[i] = 0;
        CHECK(a == b);
    } else {
        CHECK(get_be16(&got[4]) == got.size() - 40);
        Bytes a(got.begin(), got.begin() + 40), b(first.begin(), first.begin() + 40);
        a[4] = a[5] = b[4] = b[5] = 0;
        CHECK(a == b);
    }
    Bytes a(got.begin() + static_cast<std::ptrdiff_t>(ip),
            got.begin() + static_cast<std::ptrdiff_t>(hdr));
    Bytes b(first.begin() + static_cast<std::ptrdiff_t>(ip),
            first.begin() + static_cast<std::ptrdiff_t>(hdr));
    a[16] = a[17] = b[16] = b[17] = 0;
    b[13] = static_cast<uint8_t>(b[13] | (segments.back()[ip + 13] & kPsh));
    CHECK(a == b);

    CHECK(w.vnet.flags == VnetHeader::kNeedsCsum);
    CHECK(w.vnet.gso_type == (is_v4(first) ? VnetHeader::kGsoTcpV4 : VnetHeader::kGsoTcpV6));
    CHECK(w.vnet.hdr_len == hdr);
    CHECK(w.vnet.gso_size == first.size() - hdr);
    CHECK(w.vnet.csum_start == ip);
    CHECK(w.vnet.csum_offset == 16);

    // CHECKSUM_PARTIAL: the field is the folded pseudo-header sum; completing it the way the
    // kernel does gives a valid checksum over the whole super-packet.
    const std::size_t l4 = got.size() - ip;
    CHECK(get_be16(&got[ip + 16]) == fold(pseudo_sum(got, l4)));
    Bytes done = got;
    const uint16_t complete = static_cast<uint16_t>(
        ~fold(sum16(done.data() + w.vnet.csum_start, done.size() - w.vnet.csum_start)));
    put_be16(done.data() + w.vnet.csum_start + w.vnet.csum_offset, complete);
    CHECK(tcp_checksum_ok(done));
}

std::vector<Bytes> slice(const std::vector<Bytes>& v, std::size_t from, std::size_t to) {
    return {v.begin() + static_cast<std::ptrdiff_t>(from),
            v.begin() + static_cast<std::ptrdiff_t>(to)};
}

}  // namespace

TEST_CASE("tcp gro merges a stream of segments into one super-packet", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    const auto segs = stream(f, 40);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 1);
    CHECK(out[0].packet == batch.pointers[0]);
    check_super(out[0], segs);
}

TEST_CASE("tcp gro without TCP options and an odd segment size", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    f.timestamps = false;
    auto segs = stream(f, 5, 1001);
    segs.push_back(segment(f, 333));
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 1);
    check_super(out[0], segs);
}

TEST_CASE("tcp gro leaves a lone segment untouched", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    const auto segs = stream(f, 1);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 1);
    check_unmerged(out[0], segs[0]);
}

TEST_CASE("tcp gro keeps interleaved flows apart and in order", "[gro]") {
    Flow a;
    Flow b;
    b.v6 = GENERATE(false, true);
    b.src_last = 2;
    b.sport = 40001;
    std::vector<Bytes> sa, sb, all;
    for (int i = 0; i < 6; ++i) {
        sa.push_back(segment(a, kMss));
        sb.push_back(segment(b, kMss));
        all.push_back(sa.back());
        all.push_back(sb.back());
    }
    Batch batch(all);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    CHECK(out[0].packet == batch.pointers[0]);
    CHECK(out[1].packet == batch.pointers[1]);
    check_super(out[0], sa);
    check_super(out[1], sb);
}

TEST_CASE("tcp gro tells flows apart by port", "[gro]") {
    Flow a;
    Flow b;
    b.dport = 444;
    std::vector<Bytes> all;
    for (int i = 0; i < 3; ++i) {
        all.push_back(segment(a, kMss));
        all.push_back(segment(b, kMss));
    }
    Batch batch(all);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], {all[0], all[2], all[4]});
    check_super(out[1], {all[1], all[3], all[5]});
}

TEST_CASE("tcp gro ends a run at a sequence gap", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    auto segs = stream(f, 5);
    segs.erase(segs.begin() + 2);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 2));
    check_super(out[1], slice(segs, 2, 4));
}

TEST_CASE("tcp gro does not merge segments that differ in a header field", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    auto segs = stream(f, 2);
    SECTION("acknowledgment number") {
        f.ack += 1000;
    }
    SECTION("window") {
        f.window = 1000;
    }
    SECTION("timestamp option") {
        f.tsval += 1;
    }
    SECTION("TTL / hop limit") {
        f.ttl = 62;
    }
    SECTION("TOS / traffic class") {
        f.tos = 0x20;
    }
    auto more = stream(f, 2);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 2));
    check_super(out[1], slice(segs, 2, 4));
}

TEST_CASE("tcp gro does not merge across a different TCP header length", "[gro]") {
    Flow f;
    auto segs = stream(f, 2);
    f.timestamps = false;
    auto more = stream(f, 2);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 2));
    check_super(out[1], slice(segs, 2, 4));
}

TEST_CASE("tcp gro does not merge across a different DF bit", "[gro]") {
    Flow f;
    auto segs = stream(f, 4);
    for (std::size_t i = 2; i < 4; ++i) {
        segs[i][6] = 0;
        fix_ipv4_header(segs[i]);
    }
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 2));
    check_super(out[1], slice(segs, 2, 4));
}

TEST_CASE("tcp gro without DF merges only identifications that count up by one", "[gro]") {
    Flow f;
    auto segs = stream(f, 5);
    for (auto& seg : segs) {
        seg[6] = 0;  // DF clear; IDs 0x1234, 0x1235, 0x1236, ...
        fix_ipv4_header(seg);
    }
    put_be16(segs[3].data() + 4, 0x4000);  // out of step: ends the run, starts the next
    fix_ipv4_header(segs[3]);
    put_be16(segs[4].data() + 4, 0x4001);
    fix_ipv4_header(segs[4]);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 3));
    check_super(out[1], slice(segs, 3, 5));
}

TEST_CASE("tcp gro passes SYN, FIN and RST unmerged and ends the flow's run", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    const uint8_t flag = GENERATE(kFin, kSyn, kRst);
    auto segs = stream(f, 3);
    segs.push_back(segment(f, flag == kFin ? 100 : 0, static_cast<uint8_t>(kAck | flag)));
    auto more = stream(f, 2);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    check_super(out[0], slice(segs, 0, 3));
    check_unmerged(out[1], segs[3]);
    check_super(out[2], slice(segs, 4, 6));
}

TEST_CASE("tcp gro passes a bare ACK unmerged", "[gro]") {
    Flow f;
    std::vector<Bytes> segs{segment(f, 0), segment(f, 0), segment(f, 0)};
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        check_unmerged(out[i], segs[i]);
}

TEST_CASE("tcp gro ends a run with a PSH segment", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    auto segs = stream(f, 2);
    segs.push_back(segment(f, kMss, kAck | kPsh));
    auto more = stream(f, 3);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 3));
    CHECK((out[0].packet->data()[(f.v6 ? 40 : 20) + 13] & kPsh) != 0);
    check_super(out[1], slice(segs, 3, 6));
    CHECK((out[1].packet->data()[(f.v6 ? 40 : 20) + 13] & kPsh) == 0);
}

TEST_CASE("tcp gro writes a PSH segment that starts nothing unmerged", "[gro]") {
    Flow f;
    std::vector<Bytes> segs{segment(f, kMss, kAck | kPsh)};
    auto more = stream(f, 2);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_unmerged(out[0], segs[0]);
    check_super(out[1], slice(segs, 1, 3));
}

TEST_CASE("tcp gro ends a run with a short segment", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    auto segs = stream(f, 2);
    segs.push_back(segment(f, 500));
    auto more = stream(f, 3);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 3));
    CHECK(out[0].vnet.gso_size == kMss);
    check_super(out[1], slice(segs, 3, 6));
}

TEST_CASE("tcp gro does not merge a longer segment into a run", "[gro]") {
    Flow f;
    auto segs = stream(f, 2, 1000);
    auto more = stream(f, 2, 1400);
    segs.insert(segs.end(), more.begin(), more.end());
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 2));
    check_super(out[1], slice(segs, 2, 4));
}

TEST_CASE("tcp gro writes a segment with a bad checksum unmerged", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    auto segs = stream(f, 5);
    segs[2].back() ^= 0x01;
    REQUIRE_FALSE(tcp_checksum_ok(segs[2]));
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    check_super(out[0], slice(segs, 0, 2));
    check_unmerged(out[1], segs[2]);
    check_super(out[2], slice(segs, 3, 5));
}

TEST_CASE("tcp gro writes a segment with a bad IPv4 header checksum unmerged", "[gro]") {
    Flow f;
    auto segs = stream(f, 3);
    segs[1][10] ^= 0x40;
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        check_unmerged(out[i], segs[i]);
}

TEST_CASE("tcp gro passes IPv4 fragments unmerged", "[gro]") {
    Flow f;
    auto segs = stream(f, 3);
    SECTION("more fragments") {
        segs[1][6] |= 0x20;
    }
    SECTION("an offset") {
        segs[1][6] = 0;
        segs[1][7] = 185;
    }
    fix_ipv4_header(segs[1]);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        check_unmerged(out[i], segs[i]);
}

TEST_CASE("tcp gro passes IPv4 with options unmerged", "[gro]") {
    Flow f;
    auto segs = stream(f, 3);
    for (Bytes& s : segs) {
        s.insert(s.begin() + 20, {1, 1, 1, 0});  // NOP NOP NOP EOL
        s[0] = 0x46;
        put_be16(s.data() + 2, s.size());
        fix_ipv4_header(s);
        REQUIRE(tcp_checksum_ok(s));
    }
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        check_unmerged(out[i], segs[i]);
}

TEST_CASE("tcp gro passes IPv6 with an extension header unmerged", "[gro]") {
    Flow f;
    f.v6 = true;
    auto segs = stream(f, 3);
    for (Bytes& s : segs) {
        // Hop-by-hop options: next header TCP, length 0, PadN of 4.
        s.insert(s.begin() + 40, {6, 0, 1, 4, 0, 0, 0, 0});
        s[6] = 0;
        put_be16(s.data() + 4, s.size() - 40);
    }
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        check_unmerged(out[i], segs[i]);
}

TEST_CASE("tcp gro passes a packet with link padding unmerged", "[gro]") {
    Flow f;
    auto segs = stream(f, 3);
    segs[1].push_back(0);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        check_unmerged(out[i], segs[i]);
}

TEST_CASE("tcp gro passes UDP and other protocols through around a TCP run", "[gro]") {
    Flow f;
    const auto segs = stream(f, 4);
    const Bytes udp = udp_packet();
    const Bytes icmp = icmp_echo();
    const Bytes junk{0x00, 0x01, 0x02};
    Batch batch({segs[0], udp, segs[1], icmp, segs[2], junk, segs[3]});
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 4);
    check_super(out[0], segs);
    check_unmerged(out[1], udp);
    check_unmerged(out[2], icmp);
    check_unmerged(out[3], junk);
}

TEST_CASE("tcp gro keeps a run within 64 KB", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    const auto segs = stream(f, 50);
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    const std::size_t hdr = f.v6 ? 40 + 32 : 20 + 32;
    const std::size_t limit = f.v6 ? 65535 + 40 : 65535;
    const std::size_t first_run = (limit - hdr) / kMss;
    check_super(out[0], slice(segs, 0, first_run));
    check_super(out[1], slice(segs, first_run, 50));
    CHECK(out[0].packet->size() + kMss > limit);
}

TEST_CASE("tcp gro respects the head packet's tailroom", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    const auto segs = stream(f, 6);
    Batch batch(segs);
    // The head sits near the end of its buffer: room for two more segments only.
    Packet* head = batch.pointers[0];
    const std::size_t room = 2 * kMss + 100;
    const std::size_t at = Packet::kCapacity - segs[0].size() - room;
    std::copy(segs[0].begin(), segs[0].end(), head->base() + at);
    head->set_view(at, segs[0].size());
    REQUIRE(head->tailroom() == room);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 2);
    check_super(out[0], slice(segs, 0, 3));
    check_super(out[1], slice(segs, 3, 6));

    // No room at all: the head stays as it is and the rest merge.
    Batch tight(segs);
    Packet* p = tight.pointers[0];
    const std::size_t end = Packet::kCapacity - segs[0].size() - 10;
    std::copy(segs[0].begin(), segs[0].end(), p->base() + end);
    p->set_view(end, segs[0].size());
    const auto out2 = tight.coalesce();
    REQUIRE(out2.size() == 2);
    check_unmerged(out2[0], segs[0]);
    check_super(out2[1], slice(segs, 1, 6));
}

TEST_CASE("tcp gro merges non-adjacent segments of a flow and not across an unmerged one",
          "[gro]") {
    Flow a;
    Flow b;
    b.src_last = 2;
    const auto sa = stream(a, 4);
    const Bytes b_fin = segment(b, 0, kAck | kFin);
    const Bytes udp = udp_packet();
    // Another flow's and a UDP packet in between do not split the run.
    Batch batch({sa[0], b_fin, sa[1], udp, sa[2], sa[3]});
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 3);
    check_super(out[0], sa);
    check_unmerged(out[1], b_fin);
    check_unmerged(out[2], udp);
}

TEST_CASE("tcp gro handles many flows in one batch", "[gro]") {
    const std::size_t n = GENERATE(40, 70);
    std::vector<Flow> flows(n);
    std::vector<std::vector<Bytes>> per_flow(flows.size());
    std::vector<Bytes> all;
    for (std::size_t i = 0; i < flows.size(); ++i) {
        flows[i].sport = static_cast<uint16_t>(50000 + i);
        flows[i].payload_seed = static_cast<uint8_t>(i);
    }
    for (int round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < flows.size(); ++i) {
            per_flow[i].push_back(segment(flows[i], 500));
            all.push_back(per_flow[i].back());
        }
    }
    Batch batch(all);
    const auto out = batch.coalesce();
    // Every byte of every flow comes out once, in per-flow order.
    std::vector<Bytes> payload(flows.size());
    for (const TunWrite& w : out) {
        const Bytes b = bytes_of(w.packet);
        const std::size_t flow = get_be16(&b[20]) - 50000u;
        REQUIRE(flow < flows.size());
        if (w.vnet.is_gso()) {
            check_super(w, per_flow[flow]);
        } else {
            CHECK(tcp_checksum_ok(b));
        }
        payload[flow].insert(payload[flow].end(), b.begin() + 52, b.end());
    }
    for (std::size_t i = 0; i < flows.size(); ++i) {
        Bytes want;
        for (const Bytes& s : per_flow[i])
            want.insert(want.end(), s.begin() + 52, s.end());
        CHECK(payload[i] == want);
    }
    // A batch of 64 or fewer packets never runs out of runs; more flows than that, interleaved
    // round-robin, are written out as they came.
    CHECK(out.size() == (n <= kBatchSize ? n : all.size()));
}

TEST_CASE("tcp gro on an empty batch clears the output", "[gro]") {
    Batch batch(std::vector<Bytes>{});
    CHECK(batch.coalesce().empty());
}

TEST_CASE("tcp gro super-packets split back into the original segments", "[gro]") {
    Flow f;
    f.v6 = GENERATE(false, true);
    auto segs = stream(f, 20, 1200);
    SECTION("a short last segment") {
        segs.push_back(segment(f, 77));
    }
    SECTION("a PSH last segment") {
        segs.push_back(segment(f, 1200, kAck | kPsh));
    }
    Batch batch(segs);
    const auto out = batch.coalesce();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].vnet.is_gso());

    const Bytes merged = bytes_of(out[0].packet);
    REQUIRE(gso_segments_needed(out[0].vnet, merged) == segs.size());
    PacketPool pool(segs.size());
    const SplitResult r = gso_split(out[0].vnet, merged, pool.all());
    REQUIRE(r.status == SplitStatus::ok);
    REQUIRE(r.count == segs.size());
    for (std::size_t i = 0; i < segs.size(); ++i)
        CHECK(bytes_of(pool.all()[i]) == segs[i]);
}
