// Writes the seed corpora of the binary fuzzers into DIR/<target>/ (tests/fuzz/run uses
// tests/fuzz/corpus): for every flow of fuzz_rig.hpp a clear packet (fuzz_outbound) and what
// the sender makes of it on the wire (fuzz_inbound), large enough for IPCOMP to compress and
// small enough for it not to; for fuzz_ipcomp the packets and raw DEFLATE payloads of
// tests/data/ah/ipcomp_vectors.txt; for fuzz_state_codec both gateways' SADBs as state files;
// for fuzz_coalesce batches of TCP streams and UDP runs and for fuzz_gso_split what a TUN with
// offloads hands over (super-packets and packets with a partial checksum). Keys are fixed, so the
// seeds stay valid until fuzz_rig.hpp changes; run it again then.
//
//   make_seeds DIR

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/saved_sadb.hpp"
#include "core/state_codec.hpp"
#include "netpath/byte_order.hpp"
#include "netpath/gso_split.hpp"
#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"
#include "netpath/processor.hpp"
#include "netpath/vnet_header.hpp"
#include "tests/fuzz/fuzz_rig.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

// A UDP datagram of `len` bytes of text (which compresses) from src to dst.
Bytes udp_packet(const std::string& src, const std::string& dst, std::size_t len) {
    static constexpr char kText[] = "ipsec_spi: esp.1000@192.0.2.2 ESP_AES_HMAC_SHA1: dir=out ";
    Bytes b(kIpv6HeaderBytes + 8 + len);
    const std::size_t hlen = write_ip_header(b.data(), *IpAddress::parse(src),
                                             *IpAddress::parse(dst), kProtoUdp, 8 + len, 0);
    uint8_t* udp = b.data() + hlen;
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x30, udp[3] = 0x3a;
    udp[4] = static_cast<uint8_t>((8 + len) >> 8), udp[5] = static_cast<uint8_t>(8 + len);
    for (std::size_t i = 0; i < len; ++i)
        udp[8 + i] = static_cast<uint8_t>(kText[i % (sizeof(kText) - 1)]);
    b.resize(hlen + 8 + len);
    return b;
}

Bytes hex(const std::string& text) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return out;
}

void packet_seeds(const std::string& dir) {
    auto sender = fuzz::make_gateway(true);
    DataplaneStatus status;
    Processor processor(status);
    auto p = std::make_unique<Packet>();
    const auto all = fuzz::flows();
    for (std::size_t i = 0; i < all.size(); ++i) {
        for (const std::size_t len : {std::size_t{40}, std::size_t{600}}) {
            const Bytes clear =
                udp_packet(fuzz::clear_src(all[i], i), fuzz::clear_dst(all[i], i), len);
            char name[32];
            std::snprintf(name, sizeof name, "flow%02zu-%zu", i, len);
            write_file(dir + "/fuzz_outbound/" + name, clear);

            auto area = p->reset();
            std::copy(clear.begin(), clear.end(), area.begin());
            p->set_size(clear.size());
            const auto snap = sender->snapshot();
            if (!processor.outbound(*snap, *p, 5'000'000'000).ok) {
                std::fprintf(stderr, "make_seeds: flow %zu does not send\n", i);
                std::exit(1);
            }
            Bytes wire = {static_cast<uint8_t>(p->outer.kind == OuterKind::udp)};
            if (p->outer.kind == OuterKind::udp) {
                Bytes header(kIpv6HeaderBytes);
                header.resize(write_ip_header(header.data(), p->outer.src, p->outer.dst, kProtoEsp,
                                              p->size(), 0));
                wire.insert(wire.end(), header.begin(), header.end());
            }
            wire.insert(wire.end(), p->data(), p->data() + p->size());
            write_file(dir + "/fuzz_inbound/" + name, wire);
        }
    }
}

void ipcomp_seeds(const std::string& dir) {
    std::ifstream in(std::string(IPSECFS_TEST_DATA) + "/ah/ipcomp_vectors.txt");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        if (!line.starts_with("packet = ")) continue;
        const Bytes packet = hex(line.substr(9));
        const std::size_t hlen = (packet[0] >> 4) == 4 ? (packet[0] & 15u) * 4 : kIpv6HeaderBytes;
        Bytes seed = {0xff, 0xff};
        seed.insert(seed.end(), packet.begin(), packet.end());
        write_file(dir + "/fuzz_ipcomp/vector" + std::to_string(n) + "-packet", seed);
        seed.resize(2);
        seed.insert(seed.end(), packet.begin() + static_cast<std::ptrdiff_t>(hlen + 4),
                    packet.end());
        write_file(dir + "/fuzz_ipcomp/vector" + std::to_string(n) + "-deflate", seed);
        ++n;
    }
    if (n == 0) {
        std::fprintf(stderr, "make_seeds: no IPCOMP vectors found\n");
        std::exit(1);
    }
}

// Each gateway's SADB as a state file, whole (fuzz_state_codec decodes it as it is) and as the
// payload alone (which it wraps in a header and checksum of its own).
void state_seeds(const std::string& dir) {
    constexpr std::size_t kHeader = 8 + 4 + 8, kTrailer = 4;
    for (const bool sender : {true, false}) {
        const auto db = fuzz::make_gateway(sender);
        const StateBytes file = encode_state(save_sadb(*db->snapshot(), 7'000'000'000));
        const std::string name = dir + "/fuzz_state_codec/" + (sender ? "sender" : "receiver");
        write_file(name, Bytes(file.begin(), file.end()));
        write_file(name + "-payload", Bytes(file.begin() + kHeader, file.end() - kTrailer));
    }
}

constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpEce = 0x40, kTcpCwr = 0x80;

// A TCP segment with the timestamps option, as a sender with TSO off puts it on the wire (IPv4
// with DF and the given ID): 198.51.100.1 → 203.0.113.1 or 2001:db8:1::1 → 2001:db8:2::1, from
// port `port` to 443. Checksums valid.
Bytes tcp_segment(bool v6, uint16_t port, uint32_t seq, std::size_t len, uint8_t flags,
                  uint16_t id) {
    static constexpr uint8_t kSrc4[4] = {198, 51, 100, 1}, kDst4[4] = {203, 0, 113, 1};
    static constexpr uint8_t kSrc6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 1};
    static constexpr uint8_t kDst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 1};
    static constexpr char kText[] =
        "eroute 198.51.100.0/24 -> 203.0.113.0/24 => tun0x1001@192.0.2.2 ";
    const std::size_t ip = v6 ? kIpv6HeaderBytes : kIpv4HeaderBytes, tcp = 32;
    Bytes b(ip + tcp + len);
    uint8_t* p = b.data();
    if (v6) {
        p[0] = 0x60;
        put_be16(p + 4, tcp + len);
        p[6] = kProtoTcp;
        p[7] = 64;
        std::copy(kSrc6, kSrc6 + 16, p + 8);
        std::copy(kDst6, kDst6 + 16, p + 24);
    } else {
        p[0] = 0x45;
        put_be16(p + 2, b.size());
        put_be16(p + 4, id);
        put_be16(p + 6, 0x4000);
        p[8] = 64;
        p[9] = kProtoTcp;
        std::copy(kSrc4, kSrc4 + 4, p + 12);
        std::copy(kDst4, kDst4 + 4, p + 16);
        put_be16(p + 10, ipv4_checksum({p, kIpv4HeaderBytes}));
    }
    uint8_t* t = p + ip;
    put_be16(t, port);
    put_be16(t + 2, 443);
    put_be32(t + 4, seq);
    put_be32(t + 8, 0x20000000);
    t[12] = static_cast<uint8_t>(tcp / 4 << 4);
    t[13] = flags;
    put_be16(t + 14, 501);
    t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
    put_be32(t + 24, 1000);
    put_be32(t + 28, 77);
    for (std::size_t i = 0; i < len; ++i)
        t[tcp + i] = static_cast<uint8_t>(kText[(seq + i) % (sizeof(kText) - 1)]);
    const std::size_t addr = v6 ? 8 : 12, addr_len = v6 ? 16 : 4;
    uint64_t sum = pseudo_header_sum({p + addr, addr_len}, {p + addr + addr_len, addr_len},
                                     kProtoTcp, static_cast<uint32_t>(tcp + len));
    put_be16(t + 16, checksum_finish(checksum_add(sum, {t, tcp + len})));
    return b;
}

// Replaces the transport checksum at `field` with the pseudo-header sum, as CHECKSUM_PARTIAL.
void make_partial(Bytes& b, std::size_t field, uint8_t protocol) {
    const bool v6 = (b[0] >> 4) == 6;
    const std::size_t ip = v6 ? kIpv6HeaderBytes : kIpv4HeaderBytes;
    const std::size_t addr = v6 ? 8 : 12, addr_len = v6 ? 16 : 4;
    put_be16(&b[field],
             checksum_fold(pseudo_header_sum({&b[addr], addr_len}, {&b[addr + addr_len], addr_len},
                                             protocol, static_cast<uint32_t>(b.size() - ip))));
}

// A UDP datagram of one flow (DF, identification id) with a full checksum; partial: only the
// pseudo-header sum over `len`, as a USO super-packet from the kernel carries it.
Bytes udp_datagram(bool v6, uint16_t id, std::size_t len, bool partial = false) {
    Bytes b = tcp_segment(v6, 40000, 0, 0, kTcpAck, id);  // the IP header
    const std::size_t ip = v6 ? kIpv6HeaderBytes : kIpv4HeaderBytes;
    b.resize(ip + 8 + len);
    uint8_t* p = b.data();
    if (v6) {
        put_be16(p + 4, 8 + len);
        p[6] = kProtoUdp;
    } else {
        put_be16(p + 2, b.size());
        p[9] = kProtoUdp;
        p[10] = p[11] = 0;
        put_be16(p + 10, ipv4_checksum({p, kIpv4HeaderBytes}));
    }
    uint8_t* u = p + ip;
    put_be16(u, 40000);
    put_be16(u + 2, 5201);
    put_be16(u + 4, 8 + len);
    u[6] = u[7] = 0;
    for (std::size_t i = 0; i < len; ++i)
        u[8 + i] = static_cast<uint8_t>(id + i);
    make_partial(b, ip + 6, kProtoUdp);
    if (!partial) {
        VnetHeader csum;
        csum.flags = VnetHeader::kNeedsCsum;
        csum.csum_start = static_cast<uint16_t>(ip);
        csum.csum_offset = 6;
        complete_checksum(csum, b);
    }
    return b;
}

// A batch for fuzz_coalesce: [room][length][bytes] per packet.
struct BatchSeed {
    Bytes bytes;
    void add(const Bytes& packet, uint8_t room = 0) {
        bytes.push_back(room);
        bytes.push_back(static_cast<uint8_t>(packet.size() >> 8));
        bytes.push_back(static_cast<uint8_t>(packet.size()));
        bytes.insert(bytes.end(), packet.begin(), packet.end());
    }
    // n segments of len bytes from seq; the last with `last_flags`.
    void stream(bool v6, uint16_t port, uint32_t seq, std::size_t n, std::size_t len,
                uint8_t last_flags = kTcpAck) {
        for (std::size_t i = 0; i < n; ++i) {
            add(tcp_segment(v6, port, static_cast<uint32_t>(seq + i * len), len,
                            i + 1 == n ? last_flags : kTcpAck, static_cast<uint16_t>(100 + i)));
        }
    }
};

Bytes with_vnet(const VnetHeader& h, const Bytes& packet) {
    Bytes b(kVnetHeaderBytes);
    write_vnet_header(h, std::span<uint8_t, kVnetHeaderBytes>(b.data(), kVnetHeaderBytes));
    b.insert(b.end(), packet.begin(), packet.end());
    return b;
}

void offload_seeds(const std::string& dir) {
    const std::string gro = dir + "/fuzz_coalesce/", gso = dir + "/fuzz_gso_split/";
    std::filesystem::create_directories(gro);
    std::filesystem::create_directories(gso);
    {
        BatchSeed s;
        s.stream(false, 40000, 1000, 3, 1448);
        s.add(tcp_segment(false, 40000, 1000 + 3 * 1448, 500, kTcpAck | kTcpPsh, 103));
        write_file(gro + "ipv4-run", s.bytes);
    }
    {
        BatchSeed s;
        s.stream(true, 40000, 5000, 4, 1200);
        s.add(tcp_segment(true, 40000, 5000 + 4 * 1200, 77, kTcpAck, 0));
        write_file(gro + "ipv6-run", s.bytes);
    }
    {
        BatchSeed s;  // two flows interleaved, a bare ACK and a UDP datagram between
        for (uint32_t i = 0; i < 4; ++i) {
            s.add(tcp_segment(false, 40000, 1000 + i * 100, 100, kTcpAck, uint16_t(10 + i)));
            s.add(tcp_segment(false, 40001, 9000 + i * 100, 100, kTcpAck, uint16_t(20 + i)));
            if (i == 1) s.add(tcp_segment(false, 40001, 9200, 0, kTcpAck, 30));
            if (i == 2) s.add(udp_packet("198.51.100.1", "203.0.113.1", 60));
        }
        write_file(gro + "interleaved", s.bytes);
    }
    {
        BatchSeed s;  // a head with room for two more segments only
        s.add(tcp_segment(false, 40000, 1000, 40, kTcpAck, 1), 0x80 | 4);
        for (uint32_t i = 1; i < 6; ++i)
            s.add(tcp_segment(false, 40000, 1000 + i * 40, 40, kTcpAck, uint16_t(1 + i)));
        write_file(gro + "tailroom", s.bytes);
    }
    {
        BatchSeed s;  // more flows than open runs: flows 0 and 1 lose theirs
        for (uint16_t i = 0; i < 66; ++i)
            s.add(tcp_segment(i % 2, uint16_t(40000 + i), 1000, 8, kTcpAck, i));
        for (const int i : {2, 3, 4, 5, 0})
            s.add(tcp_segment(i % 2, uint16_t(40000 + i), 1008, 8, kTcpAck, uint16_t(i + 1)));
        write_file(gro + "many-flows", s.bytes);
    }
    {
        BatchSeed s;
        s.stream(true, 40000, 7000, 64, 16, kTcpAck | kTcpPsh);
        write_file(gro + "full-batch", s.bytes);
    }

    {
        BatchSeed s;  // a UDP run with a short last, a TCP stream through it
        for (uint16_t i = 0; i < 6; ++i) {
            s.add(udp_datagram(false, uint16_t(100 + i), 64));
            if (i == 2) s.stream(false, 40001, 1000, 2, 500);
        }
        s.add(udp_datagram(false, 106, 20));
        s.add(udp_datagram(false, 107, 64));
        write_file(gro + "udp-ipv4-run", s.bytes);
    }
    {
        BatchSeed s;
        for (uint16_t i = 0; i < 5; ++i)
            s.add(udp_datagram(true, i, 300));
        write_file(gro + "udp-ipv6-run", s.bytes);
    }

    VnetHeader uso;
    uso.flags = VnetHeader::kNeedsCsum;
    uso.gso_type = VnetHeader::kGsoUdpL4;
    uso.hdr_len = 20 + 8;
    uso.gso_size = 200;
    uso.csum_start = 20;
    uso.csum_offset = 6;
    write_file(gso + "ipv4-uso", with_vnet(uso, udp_datagram(false, 9, 3 * 200 + 50, true)));
    uso.hdr_len = 40 + 8;
    uso.csum_start = 40;
    write_file(gso + "ipv6-uso", with_vnet(uso, udp_datagram(true, 9, 5 * 200, true)));

    VnetHeader tso;
    tso.flags = VnetHeader::kNeedsCsum;
    tso.gso_type = VnetHeader::kGsoTcpV4;
    tso.hdr_len = 20 + 32;
    tso.gso_size = 1448;
    tso.csum_start = 20;
    tso.csum_offset = 16;
    Bytes super = tcp_segment(false, 40000, 1000, 3 * 1448 + 300, kTcpAck | kTcpPsh, 500);
    make_partial(super, 20 + 16, kProtoTcp);
    write_file(gso + "ipv4-tso", with_vnet(tso, super));

    tso.gso_type = VnetHeader::kGsoTcpV6;
    tso.hdr_len = 40 + 32;
    tso.gso_size = 1200;
    tso.csum_start = 40;
    super = tcp_segment(true, 40000, 1000, 4 * 1200 + 77, kTcpAck, 0);
    make_partial(super, 40 + 16, kProtoTcp);
    write_file(gso + "ipv6-tso", with_vnet(tso, super));

    VnetHeader ecn;  // full checksum, CWR on the first segment only, FIN and PSH on the last
    ecn.gso_type = VnetHeader::kGsoTcpV4 | VnetHeader::kGsoEcn;
    ecn.hdr_len = 20 + 32;
    ecn.gso_size = 500;
    write_file(gso + "ipv4-ecn",
               with_vnet(ecn, tcp_segment(false, 40000, 1000, 1400,
                                          kTcpCwr | kTcpEce | kTcpAck | kTcpPsh | kTcpFin, 9)));

    VnetHeader many = tso;  // more segments than a batch
    many.gso_type = VnetHeader::kGsoTcpV4;
    many.hdr_len = 20 + 32;
    many.gso_size = 64;
    many.csum_start = 20;
    super = tcp_segment(false, 40000, 1000, 80 * 64, kTcpAck, 7);
    make_partial(super, 20 + 16, kProtoTcp);
    write_file(gso + "ipv4-80-segments", with_vnet(many, super));

    VnetHeader csum;  // no GSO, checksum left to us
    csum.flags = VnetHeader::kNeedsCsum;
    csum.csum_start = 20;
    csum.csum_offset = 6;
    Bytes udp = udp_packet("198.51.100.1", "203.0.113.1", 200);
    make_partial(udp, 20 + 6, kProtoUdp);
    write_file(gso + "udp-csum", with_vnet(csum, udp));
    csum.csum_start = 40;
    csum.csum_offset = 16;
    Bytes segment6 = tcp_segment(true, 40000, 1000, 333, kTcpAck, 0);
    make_partial(segment6, 40 + 16, kProtoTcp);
    write_file(gso + "tcp6-csum", with_vnet(csum, segment6));
    write_file(gso + "plain",
               with_vnet(VnetHeader{}, tcp_segment(false, 40000, 1, 10, kTcpAck, 1)));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    packet_seeds(argv[1]);
    ipcomp_seeds(argv[1]);
    state_seeds(argv[1]);
    offload_seeds(argv[1]);
    return 0;
}
