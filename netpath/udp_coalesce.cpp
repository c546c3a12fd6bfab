#include "netpath/udp_coalesce.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "netpath/byte_order.hpp"
#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr std::size_t kUdpHeaderBytes = 8;
constexpr std::size_t kUdpChecksumOffset = 6;
constexpr std::size_t kMaxOpenRuns = kBatchSize;
constexpr std::size_t kMaxLengthField = 65535;

// What a write is to the coalescer. `keyed`: a UDP datagram whose addresses and ports are known,
// so it belongs to a flow; `mergeable`: it may also be part of a super-packet.
struct Datagram {
    bool keyed = false;
    bool mergeable = false;
    uint8_t version = 0;
    std::size_t ip_len = 0;
    std::size_t payload_len = 0;
    uint32_t flow_hash = 0;
};

bool udp_checksum_valid(const uint8_t* pkt, const Datagram& d) {
    const std::size_t addr_len = d.version == 4 ? 4 : 16;
    const std::size_t addr_at = d.version == 4 ? 12 : 8;
    const std::size_t udp_total = kUdpHeaderBytes + d.payload_len;
    if (get_be16(pkt + d.ip_len + kUdpChecksumOffset) == 0) return false;  // none (IPv4 only)
    uint64_t sum =
        pseudo_header_sum({pkt + addr_at, addr_len}, {pkt + addr_at + addr_len, addr_len},
                          kProtoUdp, static_cast<uint32_t>(udp_total));
    sum = checksum_add(sum, {pkt + d.ip_len, udp_total});
    return checksum_fold(sum) == 0xffff;
}

Datagram classify(const TunWrite& w) {
    Datagram d;
    if (w.vnet.flags != 0 || w.vnet.gso_type != VnetHeader::kGsoNone) return d;
    const uint8_t* pkt = w.packet->data();
    const std::size_t size = w.packet->size();
    if (size < 1) return d;
    d.version = pkt[0] >> 4;
    std::size_t total = 0;
    bool plain = false;  // no IP options, extension headers or fragmentation
    if (d.version == 4) {
        if (size < kIpv4HeaderBytes || pkt[9] != kProtoUdp) return d;
        d.ip_len = (pkt[0] & 0x0fu) * 4u;
        const uint16_t frag = get_be16(&pkt[6]);
        if (d.ip_len < kIpv4HeaderBytes || (frag & 0x1fff) != 0) return d;
        total = get_be16(&pkt[2]);
        plain = d.ip_len == kIpv4HeaderBytes && (frag & 0x2000) == 0 &&
                ipv4_checksum({pkt, kIpv4HeaderBytes}) == 0;
    } else if (d.version == 6) {
        if (size < kIpv6HeaderBytes || pkt[6] != kProtoUdp) return d;
        d.ip_len = kIpv6HeaderBytes;
        total = kIpv6HeaderBytes + get_be16(&pkt[4]);
        plain = true;
    } else {
        return d;
    }
    if (size < d.ip_len + 4) return d;
    d.keyed = true;
    d.flow_hash = get_be32(pkt + d.ip_len) ^ get_be32(pkt + (d.version == 4 ? 12 : 20)) ^
                  get_be32(pkt + (d.version == 4 ? 16 : 36));
    if (!plain || total != size || size < d.ip_len + kUdpHeaderBytes) return d;
    if (get_be16(pkt + d.ip_len + 4) != size - d.ip_len) return d;
    d.payload_len = size - d.ip_len - kUdpHeaderBytes;
    d.mergeable = d.payload_len > 0 && udp_checksum_valid(pkt, d);
    return d;
}

bool same_flow(const uint8_t* a, const Datagram& da, const uint8_t* b, const Datagram& db) {
    if (da.flow_hash != db.flow_hash || da.version != db.version) return false;
    const bool addresses =
        da.version == 4 ? std::memcmp(a + 12, b + 12, 8) == 0 : std::memcmp(a + 8, b + 8, 32) == 0;
    return addresses && std::memcmp(a + da.ip_len, b + db.ip_len, 4) == 0;
}

bool same_ip_fields(const uint8_t* a, const uint8_t* b, uint8_t version) {
    if (version == 4)  // TOS, TTL and the flags (DF; MF is clear)
        return a[1] == b[1] && a[8] == b[8] && (a[6] >> 5) == (b[6] >> 5);
    // Version, traffic class and flow label; hop limit.
    return std::memcmp(a, b, 4) == 0 && a[7] == b[7];
}

struct Run {
    Packet* head;
    std::size_t out_index;
    Datagram first;
    unsigned segments;
};

bool can_join(const Run& run, const uint8_t* pkt, const Datagram& d) {
    const Datagram& f = run.first;
    const uint8_t* head = run.head->data();
    if (!d.mergeable || !same_ip_fields(head, pkt, f.version)) return false;
    // The kernel numbers the datagrams it cuts id0, id0 + 1, ... (inet_gso_segment()); without
    // DF the identification matters for reassembly, so only such runs merge (RFC 6864 §4.1).
    if (f.version == 4 && (head[6] & 0x40) == 0 &&
        get_be16(pkt + 4) != static_cast<uint16_t>(get_be16(head + 4) + run.segments)) {
        return false;
    }
    if (d.payload_len > f.payload_len || run.segments >= kMaxUdpSegments) return false;
    const std::size_t new_size = run.head->size() + d.payload_len;
    return new_size <= kMaxLengthField && d.payload_len <= run.head->tailroom();
}

void finish(const Run& run, std::vector<TunWrite>& writes) {
    if (run.segments < 2) return;
    const Datagram& f = run.first;
    uint8_t* pkt = run.head->data();
    const std::size_t size = run.head->size();
    const std::size_t udp_total = size - f.ip_len;
    std::size_t addr_at;
    std::size_t addr_len;
    if (f.version == 4) {
        put_be16(pkt + 2, size);
        pkt[10] = pkt[11] = 0;
        put_be16(pkt + 10, ipv4_checksum({pkt, kIpv4HeaderBytes}));
        addr_at = 12;
        addr_len = 4;
    } else {
        put_be16(pkt + 4, udp_total);
        addr_at = 8;
        addr_len = 16;
    }
    uint8_t* udp = pkt + f.ip_len;
    put_be16(udp + 4, udp_total);
    // CHECKSUM_PARTIAL, as in tcp_coalesce: the pseudo-header sum over the super-packet's length;
    // the kernel's cut rewrites it for each datagram's length and completes it.
    const uint64_t pseudo =
        pseudo_header_sum({pkt + addr_at, addr_len}, {pkt + addr_at + addr_len, addr_len},
                          kProtoUdp, static_cast<uint32_t>(udp_total));
    put_be16(udp + kUdpChecksumOffset, checksum_fold(pseudo));

    VnetHeader& v = writes[run.out_index].vnet;
    v.flags = VnetHeader::kNeedsCsum;
    v.gso_type = VnetHeader::kGsoUdpL4;
    v.hdr_len = static_cast<uint16_t>(f.ip_len + kUdpHeaderBytes);
    v.gso_size = static_cast<uint16_t>(f.payload_len);
    v.csum_start = static_cast<uint16_t>(f.ip_len);
    v.csum_offset = static_cast<uint16_t>(kUdpChecksumOffset);
}

}  // namespace

void coalesce_udp(std::vector<TunWrite>& writes) {
    std::array<Run, kMaxOpenRuns> runs;
    std::size_t open = 0;
    auto close = [&](std::size_t i) {
        finish(runs[i], writes);
        for (std::size_t j = i + 1; j < open; ++j)
            runs[j - 1] = runs[j];
        --open;
    };

    std::size_t kept = 0;
    for (std::size_t n = 0; n < writes.size(); ++n) {
        const TunWrite w = writes[n];
        const Datagram d = classify(w);
        const uint8_t* pkt = w.packet->data();
        if (d.keyed) {
            std::size_t i = 0;
            while (i < open && !same_flow(runs[i].head->data(), runs[i].first, pkt, d))
                ++i;
            if (i < open) {
                Run& run = runs[i];
                if (can_join(run, pkt, d)) {
                    std::memcpy(run.head->data() + run.head->size(),
                                pkt + d.ip_len + kUdpHeaderBytes, d.payload_len);
                    run.head->set_size(run.head->size() + d.payload_len);
                    ++run.segments;
                    if (d.payload_len < run.first.payload_len) close(i);
                    continue;
                }
                // This flow's datagram goes out unmerged or starts anew: nothing after it may be
                // merged into a write before it.
                close(i);
            }
        }
        writes[kept++] = w;
        if (!d.mergeable) continue;
        if (open == kMaxOpenRuns) close(0);
        runs[open++] = Run{w.packet, kept - 1, d, 1};
    }
    while (open > 0)
        close(open - 1);
    writes.resize(kept);
}

}  // namespace ipsecfs::netpath
