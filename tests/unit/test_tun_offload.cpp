// The TUN device's offload framing over a datagram socketpair standing in for /dev/net/tun: a
// super-packet the kernel hands over (TCP, or UDP with USO) comes out as segments (also across
// several reads), and segments or datagrams written go back as one super-packet with its
// virtio-net header (UDP only where the kernel agreed to USO).
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/tun_device.hpp"
#include "netpath/vnet_header.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;

const uint8_t kSrc[4] = {198, 51, 100, 1};
const uint8_t kDst[4] = {203, 0, 113, 1};

// An IPv4 TCP packet (ACK) of payload_len bytes; the TCP checksum is complete, or only the
// pseudo-header sum when partial (as the kernel leaves it for NEEDS_CSUM).
Bytes tcp4(uint32_t seq, std::size_t payload_len, bool partial, uint8_t fill = 0) {
    Bytes p(20 + 20 + payload_len);
    p[0] = 0x45;
    p[2] = static_cast<uint8_t>(p.size() >> 8);
    p[3] = static_cast<uint8_t>(p.size());
    p[4] = 0x12;
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = kProtoTcp;
    std::memcpy(&p[12], kSrc, 4);
    std::memcpy(&p[16], kDst, 4);
    const uint16_t hc = ipv4_checksum({p.data(), 20});
    p[10] = static_cast<uint8_t>(hc >> 8);
    p[11] = static_cast<uint8_t>(hc);
    uint8_t* t = &p[20];
    t[0] = 0x9c, t[1] = 0x40, t[2] = 0x14, t[3] = 0x51;  // ports 40000 -> 5201
    t[4] = static_cast<uint8_t>(seq >> 24), t[5] = static_cast<uint8_t>(seq >> 16);
    t[6] = static_cast<uint8_t>(seq >> 8), t[7] = static_cast<uint8_t>(seq);
    t[11] = 7;     // ack 7
    t[12] = 0x50;  // data offset 5
    t[13] = 0x10;  // ACK
    t[14] = 0x01;  // window 256
    for (std::size_t i = 0; i < payload_len; ++i)
        t[20 + i] = static_cast<uint8_t>(fill + i);
    const uint64_t pseudo =
        pseudo_header_sum(kSrc, kDst, kProtoTcp, static_cast<uint32_t>(20 + payload_len));
    const uint16_t c = partial ? checksum_fold(pseudo)
                               : checksum_finish(checksum_add(pseudo, {t, 20 + payload_len}));
    t[16] = static_cast<uint8_t>(c >> 8);
    t[17] = static_cast<uint8_t>(c);
    return p;
}

// An IPv4 UDP datagram (DF, ID 0x100 + n) with a full checksum.
Bytes udp4(uint16_t n, std::size_t payload_len) {
    Bytes p(20 + 8 + payload_len);
    p[0] = 0x45;
    p[2] = static_cast<uint8_t>(p.size() >> 8);
    p[3] = static_cast<uint8_t>(p.size());
    p[4] = static_cast<uint8_t>((0x100 + n) >> 8);
    p[5] = static_cast<uint8_t>(0x100 + n);
    p[6] = 0x40;
    p[8] = 64;
    p[9] = kProtoUdp;
    std::memcpy(&p[12], kSrc, 4);
    std::memcpy(&p[16], kDst, 4);
    const uint16_t hc = ipv4_checksum({p.data(), 20});
    p[10] = static_cast<uint8_t>(hc >> 8);
    p[11] = static_cast<uint8_t>(hc);
    uint8_t* u = &p[20];
    u[0] = 0x9c, u[1] = 0x40, u[2] = 0x14, u[3] = 0x51;
    u[4] = static_cast<uint8_t>((8 + payload_len) >> 8);
    u[5] = static_cast<uint8_t>(8 + payload_len);
    for (std::size_t i = 0; i < payload_len; ++i)
        u[8 + i] = static_cast<uint8_t>(n * 7 + i);
    const uint64_t pseudo =
        pseudo_header_sum(kSrc, kDst, kProtoUdp, static_cast<uint32_t>(8 + payload_len));
    uint16_t c = checksum_finish(checksum_add(pseudo, {u, 8 + payload_len}));
    if (c == 0) c = 0xffff;
    u[6] = static_cast<uint8_t>(c >> 8);
    u[7] = static_cast<uint8_t>(c);
    return p;
}

bool tcp_checksum_ok(const uint8_t* p, std::size_t size) {
    const uint64_t pseudo =
        pseudo_header_sum({p + 12, 4}, {p + 16, 4}, kProtoTcp, static_cast<uint32_t>(size - 20));
    return checksum_fold(checksum_add(pseudo, {p + 20, size - 20})) == 0xffff;
}

uint32_t seq_of(const uint8_t* p) {
    return static_cast<uint32_t>(p[24] << 24 | p[25] << 16 | p[26] << 8 | p[27]);
}

Bytes framed(const VnetHeader& h, const Bytes& packet) {
    Bytes out(kVnetHeaderBytes + packet.size());
    write_vnet_header(h, std::span<uint8_t, kVnetHeaderBytes>(out.data(), kVnetHeaderBytes));
    std::memcpy(out.data() + kVnetHeaderBytes, packet.data(), packet.size());
    return out;
}

// The header the kernel gives a TCP/IPv4 super-packet of tcp4() segments (TSO, partial sum).
VnetHeader tso4_header(uint16_t gso_size) {
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.gso_type = VnetHeader::kGsoTcpV4;
    h.hdr_len = 40;
    h.gso_size = gso_size;
    h.csum_start = 20;
    h.csum_offset = 16;
    return h;
}

struct Rig {
    DataplaneStatus status;
    int kernel = -1;  // the end the kernel would hold
    std::unique_ptr<TunDevice> tun;
    PacketPool pool{8};

    explicit Rig(TunOffload offload = TunOffload::tcp_udp) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        kernel = fds[0];
        tun = make_fd_tun(UniqueFd(fds[1]), "test0", offload, status);
    }
    ~Rig() { ::close(kernel); }
    void from_kernel(const Bytes& b) {
        REQUIRE(::write(kernel, b.data(), b.size()) == static_cast<ssize_t>(b.size()));
    }
    Bytes to_kernel() {
        Bytes b(70000);
        const ssize_t n = ::read(kernel, b.data(), b.size());
        b.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return b;
    }
};

}  // namespace

TEST_CASE("a TCP super-packet from the kernel is read as segments, across reads",
          "[tun][offload]") {
    Rig rig;
    // 10 segments of 1000 bytes, more than one read's 8 packets.
    const VnetHeader h = tso4_header(1000);
    rig.from_kernel(framed(h, tcp4(5000, 9500, true)));
    rig.from_kernel(framed(VnetHeader{}, tcp4(14500, 100, false)));

    std::vector<Bytes> got;
    for (int reads = 0; reads < 4; ++reads) {
        const std::size_t n = rig.tun->read(rig.pool.all());
        for (std::size_t i = 0; i < n; ++i) {
            Packet* p = rig.pool.all()[i];
            got.emplace_back(p->data(), p->data() + p->size());
        }
    }
    REQUIRE(got.size() == 11);
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("segment " << i);
        CHECK(seq_of(got[i].data()) == (i == 10 ? 14500 : 5000 + 1000 * i));
        CHECK(got[i].size() == 40 + (i == 9 ? 500 : i == 10 ? 100 : 1000));
        CHECK(tcp_checksum_ok(got[i].data(), got[i].size()));
    }
    CHECK(rig.status.drops[static_cast<std::size_t>(DropReason::malformed)].get() == 0);
}

TEST_CASE("plain packets and a super-packet read in one batch keep their order and bytes",
          "[tun][offload]") {
    Rig rig;
    const VnetHeader h = tso4_header(1000);
    const Bytes before = tcp4(1, 700, false);
    const Bytes after = tcp4(3701, 50, false);
    rig.from_kernel(framed(VnetHeader{}, before));
    rig.from_kernel(framed(h, tcp4(701, 3000, true)));
    rig.from_kernel(framed(VnetHeader{}, after));
    REQUIRE(rig.tun->read(rig.pool.all()) == 5);
    const auto bytes_of = [&](std::size_t i) {
        const Packet* p = rig.pool.all()[i];
        return Bytes(p->data(), p->data() + p->size());
    };
    CHECK(bytes_of(0) == before);
    for (std::size_t i = 1; i <= 3; ++i) {
        INFO("segment " << i);
        const Bytes seg = bytes_of(i);
        CHECK(seq_of(seg.data()) == 701 + 1000 * (i - 1));
        CHECK(seg.size() == 1040);
        CHECK(tcp_checksum_ok(seg.data(), seg.size()));
    }
    CHECK(bytes_of(4) == after);
}

TEST_CASE("a partial checksum from the kernel is completed; a runt is a counted drop",
          "[tun][offload]") {
    Rig rig;
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.csum_start = 20;
    h.csum_offset = 16;
    rig.from_kernel(Bytes(4, 0));
    rig.from_kernel(framed(h, tcp4(1, 300, true)));
    REQUIRE(rig.tun->read(rig.pool.all()) == 1);
    const Packet* p = rig.pool.all()[0];
    CHECK(Bytes(p->data(), p->data() + p->size()) == tcp4(1, 300, false));
    CHECK(rig.status.drops[static_cast<std::size_t>(DropReason::malformed)].get() == 1);
}

TEST_CASE("consecutive TCP segments are written to the kernel as one super-packet",
          "[tun][offload]") {
    Rig rig;
    auto all = rig.pool.all();
    const std::size_t sizes[] = {1200, 1200, 1200, 700};
    uint32_t seq = 100;
    for (std::size_t i = 0; i < 4; ++i) {
        const Bytes b = tcp4(seq, sizes[i], false, static_cast<uint8_t>(seq));
        auto area = all[i]->reset();
        std::memcpy(area.data(), b.data(), b.size());
        all[i]->set_size(b.size());
        seq += static_cast<uint32_t>(sizes[i]);
    }
    REQUIRE(rig.tun->write(all.first(4)) == 1);
    const Bytes out = rig.to_kernel();
    REQUIRE(out.size() == kVnetHeaderBytes + 40 + 4300);
    const VnetHeader h =
        parse_vnet_header(std::span<const uint8_t, kVnetHeaderBytes>(out.data(), 10));
    CHECK(h.gso_type == VnetHeader::kGsoTcpV4);
    CHECK(h.gso_size == 1200);
    CHECK(h.needs_csum());
    CHECK(h.csum_start == 20);
    CHECK(h.csum_offset == 16);
    CHECK(seq_of(out.data() + kVnetHeaderBytes) == 100);
    CHECK(rig.to_kernel().empty());
}

TEST_CASE("datagrams of one UDP flow are written as one USO super-packet where the kernel has USO",
          "[tun][offload]") {
    const TunOffload offload = GENERATE(TunOffload::tcp_udp, TunOffload::tcp);
    Rig rig(offload);
    auto all = rig.pool.all();
    std::vector<Bytes> sent;
    for (uint16_t i = 0; i < 5; ++i) {
        sent.push_back(udp4(i, 64));
        auto area = all[i]->reset();
        std::memcpy(area.data(), sent.back().data(), sent.back().size());
        all[i]->set_size(sent.back().size());
    }
    if (offload == TunOffload::tcp) {
        REQUIRE(rig.tun->write(all.first(5)) == 5);
        for (const Bytes& b : sent) {
            const Bytes out = rig.to_kernel();
            REQUIRE(out.size() == kVnetHeaderBytes + b.size());
            CHECK(Bytes(out.begin() + kVnetHeaderBytes, out.end()) == b);
        }
    } else {
        REQUIRE(rig.tun->write(all.first(5)) == 1);
        const Bytes out = rig.to_kernel();
        REQUIRE(out.size() == kVnetHeaderBytes + 28 + 5 * 64);
        const VnetHeader h =
            parse_vnet_header(std::span<const uint8_t, kVnetHeaderBytes>(out.data(), 10));
        CHECK(h.gso_type == VnetHeader::kGsoUdpL4);
        CHECK(h.gso_size == 64);
        CHECK(h.csum_start == 20);
        CHECK(h.csum_offset == 6);
        CHECK(rig.status.tun_write_frames.get() == 1);
        CHECK(rig.status.tun_write_bytes.get() == 28 + 5 * 64);
    }
    CHECK(rig.to_kernel().empty());
}

TEST_CASE("a UDP super-packet (USO) from the kernel is read as datagrams", "[tun][offload]") {
    Rig rig;
    // What a local sender with UDP_SEGMENT hands to a device with USO: one IP header over the
    // whole run, the UDP length covering all of it, the checksum partial.
    Bytes super = udp4(0, 3 * 200 + 50);
    const uint64_t pseudo = pseudo_header_sum(kSrc, kDst, kProtoUdp, 8 + 650);
    super[26] = static_cast<uint8_t>(checksum_fold(pseudo) >> 8);
    super[27] = static_cast<uint8_t>(checksum_fold(pseudo));
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.gso_type = VnetHeader::kGsoUdpL4;
    h.hdr_len = 28;
    h.gso_size = 200;
    h.csum_start = 20;
    h.csum_offset = 6;
    rig.from_kernel(framed(h, super));
    REQUIRE(rig.tun->read(rig.pool.all()) == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        INFO("datagram " << i);
        const Packet* p = rig.pool.all()[i];
        const std::size_t len = i == 3 ? 50 : 200;
        REQUIRE(p->size() == 28 + len);
        const uint8_t* d = p->data();
        CHECK(static_cast<std::size_t>((d[4] << 8) | d[5]) == 0x100 + i);
        CHECK(static_cast<std::size_t>((d[24] << 8) | d[25]) == 8 + len);
        CHECK(std::memcmp(d + 28, super.data() + 28 + 200 * i, len) == 0);
        const uint64_t ps =
            pseudo_header_sum(kSrc, kDst, kProtoUdp, static_cast<uint32_t>(8 + len));
        CHECK(checksum_fold(checksum_add(ps, {d + 20, 8 + len})) == 0xffff);
    }
    CHECK(rig.status.tun_read_frames.get() == 1);
}
