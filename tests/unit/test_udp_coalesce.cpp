// Userspace UDP GRO for the TUN write path (USO): which datagrams merge into a super-packet, its
// headers and virtio-net header, what passes unmerged, and that gso_split() cuts a merged packet
// back into the very datagrams it was made of.

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "netpath/byte_order.hpp"
#include "netpath/gso_split.hpp"
#include "netpath/packet.hpp"
#include "netpath/udp_coalesce.hpp"
#include "netpath/vnet_header.hpp"
#include "tests/support/reference_checksum.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;
using ipsecfs::testing::fold;
using ipsecfs::testing::sum16;

struct UdpFlow {
    bool v6 = false;
    bool df = true;
    uint16_t id = 0x1000;
    uint16_t sport = 40000;
    uint8_t ttl = 64;
};

std::size_t ip_len_of(const Bytes& b) {
    return (b[0] >> 4) == 4 ? (b[0] & 0x0fu) * 4u : 40;
}

uint64_t pseudo_sum(const Bytes& b, std::size_t l4_len) {
    const bool v4 = (b[0] >> 4) == 4;
    return sum16(b.data() + (v4 ? 12 : 8), v4 ? 8 : 32) + 17 + (l4_len >> 16) + (l4_len & 0xffff);
}

void set_udp_checksum(Bytes& b) {
    const std::size_t ip = ip_len_of(b);
    b[ip + 6] = b[ip + 7] = 0;
    uint16_t c = static_cast<uint16_t>(
        ~fold(sum16(b.data() + ip, b.size() - ip, pseudo_sum(b, b.size() - ip))));
    if (c == 0) c = 0xffff;
    put_be16(&b[ip + 6], c);
}

// The next datagram of the flow, payload bytes numbered from `fill`.
Bytes datagram(UdpFlow& f, std::size_t payload, uint8_t fill = 0) {
    const std::size_t ip = f.v6 ? 40 : 20;
    Bytes b(ip + 8 + payload);
    if (f.v6) {
        b[0] = 0x60;
        put_be16(&b[4], 8 + payload);
        b[6] = 17;
        b[7] = f.ttl;
        b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = 1;
        b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = 2;
    } else {
        b[0] = 0x45;
        put_be16(&b[2], b.size());
        put_be16(&b[4], f.id++);
        b[6] = f.df ? 0x40 : 0;
        b[8] = f.ttl;
        b[9] = 17;
        b[12] = 192, b[13] = 0, b[14] = 2, b[15] = 1;
        b[16] = 198, b[17] = 51, b[18] = 100, b[19] = 2;
        put_be16(&b[10], static_cast<uint16_t>(~fold(sum16(b.data(), 20))));
    }
    put_be16(&b[ip], f.sport);
    put_be16(&b[ip + 2], 5201);
    put_be16(&b[ip + 4], 8 + payload);
    for (std::size_t i = 0; i < payload; ++i)
        b[ip + 8 + i] = static_cast<uint8_t>(fill + i);
    set_udp_checksum(b);
    return b;
}

// Rewrites the last payload word so that the datagram's checksum computes to 0, which is sent as
// 0xffff (RFC 768). The payload length must be even.
void force_zero_sum(Bytes& b) {
    const std::size_t ip = ip_len_of(b);
    b[ip + 6] = b[ip + 7] = 0;
    const uint16_t s = fold(sum16(b.data() + ip, b.size() - ip, pseudo_sum(b, b.size() - ip)));
    const std::size_t at = b.size() - 2;
    put_be16(&b[at], fold(uint64_t{get_be16(&b[at])} + static_cast<uint16_t>(0xffff - s)));
    REQUIRE(fold(sum16(b.data() + ip, b.size() - ip, pseudo_sum(b, b.size() - ip))) == 0xffff);
    put_be16(&b[ip + 6], 0xffff);
}

std::vector<Bytes> run_of(UdpFlow& f, std::size_t n, std::size_t payload) {
    std::vector<Bytes> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(datagram(f, payload, static_cast<uint8_t>(i)));
    return out;
}

struct Batch {
    std::vector<std::unique_ptr<Packet>> storage;
    std::vector<TunWrite> writes;

    explicit Batch(const std::vector<Bytes>& packets) {
        for (const Bytes& b : packets) {
            auto p = std::make_unique<Packet>();
            auto area = p->reset();
            std::copy(b.begin(), b.end(), area.begin());
            p->set_size(b.size());
            writes.push_back(TunWrite{p.get(), VnetHeader{}});
            storage.push_back(std::move(p));
        }
    }
    std::vector<TunWrite>& coalesce() {
        coalesce_udp(writes);
        return writes;
    }
};

Bytes bytes_of(const Packet* p) {
    return {p->data(), p->data() + p->size()};
}

// Cuts a write as the kernel would (gso_split does what __udp_gso_segment() does).
std::vector<Bytes> cut(const TunWrite& w) {
    const Bytes b = bytes_of(w.packet);
    if (!w.vnet.is_gso()) return {b};
    PacketPool pool(kMaxUdpSegments);
    const SplitResult r = gso_split(w.vnet, b, pool.all());
    REQUIRE(r.status == SplitStatus::ok);
    std::vector<Bytes> out;
    for (std::size_t i = 0; i < r.count; ++i)
        out.push_back(bytes_of(pool.all()[i]));
    return out;
}

std::vector<Bytes> cut_all(const std::vector<TunWrite>& writes) {
    std::vector<Bytes> out;
    for (const TunWrite& w : writes)
        for (Bytes& b : cut(w))
            out.push_back(std::move(b));
    return out;
}

}  // namespace

TEST_CASE("udp gro merges a run of one flow into a USO super-packet", "[gro][udp]") {
    UdpFlow f;
    f.v6 = GENERATE(false, true);
    const auto dgrams = run_of(f, 10, 64);
    Batch batch(dgrams);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 1);
    const VnetHeader& v = out[0].vnet;
    const std::size_t ip = f.v6 ? 40 : 20;
    CHECK(v.gso_type == VnetHeader::kGsoUdpL4);
    CHECK(v.flags == VnetHeader::kNeedsCsum);
    CHECK(v.gso_size == 64);
    CHECK(v.hdr_len == ip + 8);
    CHECK(v.csum_start == ip);
    CHECK(v.csum_offset == 6);
    const Bytes b = bytes_of(out[0].packet);
    REQUIRE(b.size() == ip + 8 + 640);
    if (f.v6) {
        CHECK(get_be16(&b[4]) == 8 + 640);
    } else {
        CHECK(get_be16(&b[2]) == b.size());
        CHECK(fold(sum16(b.data(), 20)) == 0xffff);
    }
    CHECK(get_be16(&b[ip + 4]) == 8 + 640);
    // CHECKSUM_PARTIAL: the folded pseudo-header sum over the whole length, not complemented.
    CHECK(get_be16(&b[ip + 6]) == fold(pseudo_sum(b, 8 + 640)));
    for (std::size_t i = 0; i < 10; ++i)
        CHECK(std::equal(b.begin() + static_cast<std::ptrdiff_t>(ip + 8 + 64 * i),
                         b.begin() + static_cast<std::ptrdiff_t>(ip + 8 + 64 * (i + 1)),
                         dgrams[i].begin() + static_cast<std::ptrdiff_t>(ip + 8)));
    CHECK(cut_all(out) == dgrams);
}

TEST_CASE("udp gro: a shorter datagram ends a run, a longer one starts the next", "[gro][udp]") {
    UdpFlow f;
    std::vector<Bytes> d = run_of(f, 3, 100);
    d.push_back(datagram(f, 40));   // the short last of run 1
    d.push_back(datagram(f, 100));  // run 2
    d.push_back(datagram(f, 100));
    d.push_back(datagram(f, 200));  // longer: cannot join, starts run 3
    d.push_back(datagram(f, 200));
    Batch batch(d);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 3);
    CHECK(out[0].packet->size() == 20 + 8 + 340);
    CHECK(out[1].packet->size() == 20 + 8 + 200);
    CHECK(out[2].packet->size() == 20 + 8 + 400);
    CHECK(cut_all(out) == d);
}

TEST_CASE("udp gro keeps each flow's order and merges flows apart", "[gro][udp]") {
    UdpFlow a;
    UdpFlow b;
    b.sport = 40001;
    std::vector<Bytes> d;
    for (int i = 0; i < 4; ++i) {
        d.push_back(datagram(a, 64, static_cast<uint8_t>(i)));
        d.push_back(datagram(b, 80, static_cast<uint8_t>(i)));
    }
    Batch batch(d);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 2);
    CHECK(out[0].packet->size() == 20 + 8 + 4 * 64);
    CHECK(out[1].packet->size() == 20 + 8 + 4 * 80);
    const std::vector<Bytes> a_back = cut(out[0]);
    const std::vector<Bytes> b_back = cut(out[1]);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(a_back[i] == d[2 * i]);
        CHECK(b_back[i] == d[2 * i + 1]);
    }
}

TEST_CASE("udp gro leaves alone what the kernel would not cut back the same", "[gro][udp]") {
    UdpFlow f;
    std::vector<Bytes> d = run_of(f, 2, 64);
    Bytes odd = datagram(f, 64);
    SECTION("no checksum (IPv4 UDP checksum 0)") {
        odd[26] = odd[27] = 0;
    }
    SECTION("a wrong checksum") {
        odd[30] ^= 1;
    }
    SECTION("another TTL") {
        odd[8] = 63;
        odd[10] = odd[11] = 0;
        put_be16(&odd[10], static_cast<uint16_t>(~fold(sum16(odd.data(), 20))));
    }
    SECTION("a UDP length that is not the datagram's") {
        put_be16(&odd[24], 8 + 60);
        set_udp_checksum(odd);
    }
    SECTION("a fragment") {
        odd[6] = 0x20;  // MF
        odd[10] = odd[11] = 0;
        put_be16(&odd[10], static_cast<uint16_t>(~fold(sum16(odd.data(), 20))));
    }
    d.push_back(odd);
    d.push_back(datagram(f, 64));  // after the odd one: may not join the run before it
    Batch batch(d);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 3);
    CHECK(out[0].vnet.is_gso());
    CHECK(out[0].packet->size() == 20 + 8 + 128);
    CHECK_FALSE(out[1].vnet.is_gso());
    CHECK(bytes_of(out[1].packet) == d[2]);
    CHECK_FALSE(out[2].vnet.is_gso());
    CHECK(bytes_of(out[2].packet) == d[3]);
}

TEST_CASE("udp gro without DF merges only identifications counting up", "[gro][udp]") {
    UdpFlow f;
    f.df = false;
    std::vector<Bytes> d = run_of(f, 3, 64);
    f.id = 0x2000;  // a jump: a new run
    d.push_back(datagram(f, 64));
    d.push_back(datagram(f, 64));
    Batch batch(d);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 2);
    CHECK(out[0].packet->size() == 20 + 8 + 3 * 64);
    CHECK(out[1].packet->size() == 20 + 8 + 2 * 64);
    CHECK(cut_all(out) == d);
}

TEST_CASE("udp gro stops a run at 64 datagrams and 64 KB", "[gro][udp]") {
    UdpFlow f;
    SECTION("count") {
        const auto d = run_of(f, 70, 16);
        Batch batch(d);
        const auto& out = batch.coalesce();
        REQUIRE(out.size() == 2);
        CHECK(out[0].packet->size() == 20 + 8 + 64 * 16);
        CHECK(cut_all(out) == d);
    }
    SECTION("size") {
        const auto d = run_of(f, 50, 1400);
        Batch batch(d);
        const auto& out = batch.coalesce();
        REQUIRE(out.size() == 2);
        CHECK(out[0].packet->size() <= 65535);
        CHECK(out[0].packet->size() == 20 + 8 + 46 * 1400);
        CHECK(cut_all(out) == d);
    }
}

TEST_CASE("udp gro passes writes that already carry a vnet header and non-UDP packets",
          "[gro][udp]") {
    UdpFlow f;
    std::vector<Bytes> d = run_of(f, 3, 64);
    d[1][9] = 6;  // TCP now: not a datagram of the flow, not mergeable
    Batch batch(d);
    batch.writes[2].vnet.gso_type = VnetHeader::kGsoTcpV4;  // as if coalesce_tcp had made it
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(bytes_of(out[i].packet) == d[i]);
    CHECK(out[2].vnet.gso_type == VnetHeader::kGsoTcpV4);
}

TEST_CASE("gso_split cuts a USO super-packet from the kernel into datagrams", "[gso][udp]") {
    UdpFlow f;
    f.v6 = GENERATE(false, true);
    std::vector<Bytes> d = run_of(f, 5, 300);
    d.push_back(datagram(f, 17));
    Batch batch(d);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 1);
    SECTION("as merged") {
        CHECK(cut(out[0]) == d);
    }
    SECTION("a UDP length that does not cover the super-packet is malformed") {
        Bytes b = bytes_of(out[0].packet);
        const std::size_t ip = f.v6 ? 40 : 20;
        put_be16(&b[ip + 4], 8 + 300);
        PacketPool pool(8);
        CHECK(gso_split(out[0].vnet, b, pool.all()).status == SplitStatus::malformed);
    }
    SECTION("every datagram's checksum verifies and is not 0") {
        PacketPool pool(8);
        const Bytes b = bytes_of(out[0].packet);
        const SplitResult r = gso_split(out[0].vnet, b, pool.all());
        REQUIRE(r.status == SplitStatus::ok);
        for (std::size_t i = 0; i < r.count; ++i) {
            const Bytes s = bytes_of(pool.all()[i]);
            const std::size_t ip = ip_len_of(s);
            CHECK(get_be16(&s[ip + 6]) != 0);
            CHECK(fold(sum16(s.data() + ip, s.size() - ip, pseudo_sum(s, s.size() - ip))) ==
                  0xffff);
        }
    }
}

TEST_CASE("gso_split sends a datagram whose checksum computes to 0 as 0xffff", "[gso][udp]") {
    UdpFlow f;
    f.v6 = GENERATE(false, true);
    std::vector<Bytes> d = run_of(f, 3, 300);
    force_zero_sum(d[1]);
    Batch batch(d);
    const auto& out = batch.coalesce();
    REQUIRE(out.size() == 1);
    const std::vector<Bytes> back = cut(out[0]);
    REQUIRE(back.size() == 3);
    CHECK(get_be16(&back[1][ip_len_of(back[1]) + 6]) == 0xffff);
    CHECK(back == d);
}
