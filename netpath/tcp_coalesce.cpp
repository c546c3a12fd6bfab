#include "netpath/tcp_coalesce.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "netpath/byte_order.hpp"
#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr std::size_t kTcpHeaderBytes = 20;
constexpr std::size_t kTcpChecksumOffset = 16;
// Every packet of a full batch can have a run of its own; longer spans evict the oldest run.
constexpr std::size_t kMaxOpenRuns = kBatchSize;
// IPv4 total length is 16 bits; super-packets stay below 64 KB for either family.
constexpr std::size_t kMaxLengthField = 65535;

// What a packet is to the coalescer. `keyed`: a TCP packet whose addresses and ports are known,
// so it belongs to a flow; `mergeable`: it may also be part of a super-packet.
struct Segment {
    bool keyed = false;
    bool mergeable = false;
    uint8_t version = 0;
    std::size_t ip_len = 0;
    std::size_t tcp_len = 0;
    std::size_t payload_len = 0;
    uint32_t seq = 0;
    uint8_t flags = 0;
    uint32_t flow_hash = 0;  // for a quick mismatch before comparing addresses and ports
};

bool tcp_checksum_valid(const uint8_t* pkt, const Segment& s) {
    const std::size_t addr_len = s.version == 4 ? 4 : 16;
    const std::size_t addr_at = s.version == 4 ? 12 : 8;
    const std::size_t tcp_total = s.tcp_len + s.payload_len;
    uint64_t sum =
        pseudo_header_sum({pkt + addr_at, addr_len}, {pkt + addr_at + addr_len, addr_len},
                          kProtoTcp, static_cast<uint32_t>(tcp_total));
    sum = checksum_add(sum, {pkt + s.ip_len, tcp_total});
    return checksum_fold(sum) == 0xffff;
}

Segment classify(const Packet& p) {
    Segment s;
    const uint8_t* pkt = p.data();
    const std::size_t size = p.size();
    if (size < 1) return s;
    s.version = pkt[0] >> 4;
    std::size_t total = 0;
    bool plain = false;  // no IP options, extension headers or fragmentation
    if (s.version == 4) {
        if (size < kIpv4HeaderBytes || pkt[9] != kProtoTcp) return s;
        s.ip_len = (pkt[0] & 0x0fu) * 4u;
        const uint16_t frag = get_be16(&pkt[6]);
        if (s.ip_len < kIpv4HeaderBytes || (frag & 0x1fff) != 0) return s;
        total = get_be16(&pkt[2]);
        plain = s.ip_len == kIpv4HeaderBytes && (frag & 0x2000) == 0 &&
                ipv4_checksum({pkt, kIpv4HeaderBytes}) == 0;
    } else if (s.version == 6) {
        if (size < kIpv6HeaderBytes || pkt[6] != kProtoTcp) return s;
        s.ip_len = kIpv6HeaderBytes;
        total = kIpv6HeaderBytes + get_be16(&pkt[4]);
        plain = true;
    } else {
        return s;
    }
    if (size < s.ip_len + 4) return s;
    s.keyed = true;
    s.flow_hash = get_be32(pkt + s.ip_len) ^ get_be32(pkt + (s.version == 4 ? 12 : 20)) ^
                  get_be32(pkt + (s.version == 4 ? 16 : 36));
    if (!plain || total != size || size < s.ip_len + kTcpHeaderBytes) return s;
    const uint8_t* tcp = pkt + s.ip_len;
    s.tcp_len = (tcp[12] >> 4) * 4u;
    if (s.tcp_len < kTcpHeaderBytes || s.ip_len + s.tcp_len > size) return s;
    s.payload_len = size - s.ip_len - s.tcp_len;
    s.seq = get_be32(tcp + 4);
    s.flags = tcp[13];
    // Only ACK, optionally PSH; the reserved bits and AE clear.
    if ((tcp[12] & 0x0f) != 0 || (s.flags & ~kTcpPsh) != kTcpAck) return s;
    s.mergeable = s.payload_len > 0 && tcp_checksum_valid(pkt, s);
    return s;
}

bool same_flow(const uint8_t* a, const Segment& sa, const uint8_t* b, const Segment& sb) {
    if (sa.flow_hash != sb.flow_hash || sa.version != sb.version) return false;
    const bool addresses =
        sa.version == 4 ? std::memcmp(a + 12, b + 12, 8) == 0 : std::memcmp(a + 8, b + 8, 32) == 0;
    return addresses && std::memcmp(a + sa.ip_len, b + sb.ip_len, 4) == 0;
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
    Segment first;
    uint32_t next_seq;
    unsigned segments;
    bool psh;
};

bool can_join(const Run& run, const uint8_t* seg, const Segment& s) {
    const Segment& f = run.first;
    const uint8_t* head = run.head->data();
    if (!s.mergeable || !same_ip_fields(head, seg, f.version)) return false;
    // Without DF the identification must count up by one per segment, as the kernel will give
    // it when it cuts the super-packet again (Linux's GRO asks the same, RFC 6864 §4.1).
    if (f.version == 4 && (head[6] & 0x40) == 0 &&
        get_be16(seg + 4) != static_cast<uint16_t>(get_be16(head + 4) + run.segments)) {
        return false;
    }
    if (s.tcp_len != f.tcp_len || s.seq != run.next_seq || s.payload_len > f.payload_len)
        return false;
    const uint8_t* ht = head + f.ip_len;
    const uint8_t* st = seg + s.ip_len;
    // Acknowledgment number; window; options.
    if (std::memcmp(ht + 8, st + 8, 4) != 0 || std::memcmp(ht + 14, st + 14, 2) != 0) return false;
    if (std::memcmp(ht + kTcpHeaderBytes, st + kTcpHeaderBytes, f.tcp_len - kTcpHeaderBytes) != 0)
        return false;
    const std::size_t new_size = run.head->size() + s.payload_len;
    // 64 KB in all for IPv6 too (its payload length could say more): the kernel's GRO stays there.
    return new_size <= kMaxLengthField && s.payload_len <= run.head->tailroom();
}

void finish(const Run& run, std::vector<TunWrite>& out) {
    if (run.segments < 2) return;
    const Segment& f = run.first;
    uint8_t* pkt = run.head->data();
    const std::size_t size = run.head->size();
    const std::size_t tcp_total = size - f.ip_len;
    std::size_t addr_at;
    std::size_t addr_len;
    if (f.version == 4) {
        put_be16(pkt + 2, size);
        pkt[10] = pkt[11] = 0;
        put_be16(pkt + 10, ipv4_checksum({pkt, kIpv4HeaderBytes}));
        addr_at = 12;
        addr_len = 4;
    } else {
        put_be16(pkt + 4, tcp_total);
        addr_at = 8;
        addr_len = 16;
    }
    uint8_t* tcp = pkt + f.ip_len;
    // The kernel sets PSH on the last segment it cuts (tcp_gso_segment()).
    if (run.psh) tcp[13] |= kTcpPsh;
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum; the device (here the
    // kernel's segmentation) adds the sum from csum_start to the end and complements.
    const uint64_t pseudo =
        pseudo_header_sum({pkt + addr_at, addr_len}, {pkt + addr_at + addr_len, addr_len},
                          kProtoTcp, static_cast<uint32_t>(tcp_total));
    put_be16(tcp + kTcpChecksumOffset, checksum_fold(pseudo));

    VnetHeader& v = out[run.out_index].vnet;
    v.flags = VnetHeader::kNeedsCsum;
    v.gso_type = f.version == 4 ? VnetHeader::kGsoTcpV4 : VnetHeader::kGsoTcpV6;
    v.hdr_len = static_cast<uint16_t>(f.ip_len + f.tcp_len);
    v.gso_size = static_cast<uint16_t>(f.payload_len);
    v.csum_start = static_cast<uint16_t>(f.ip_len);
    v.csum_offset = static_cast<uint16_t>(kTcpChecksumOffset);
}

}  // namespace

void coalesce_tcp(std::span<Packet* const> packets, std::vector<TunWrite>& out) {
    out.clear();
    std::array<Run, kMaxOpenRuns> runs;
    std::size_t open = 0;
    auto close = [&](std::size_t i) {
        finish(runs[i], out);
        for (std::size_t j = i + 1; j < open; ++j)
            runs[j - 1] = runs[j];
        --open;
    };

    for (Packet* p : packets) {
        const Segment s = classify(*p);
        const uint8_t* pkt = p->data();
        if (s.keyed) {
            std::size_t i = 0;
            while (i < open && !same_flow(runs[i].head->data(), runs[i].first, pkt, s))
                ++i;
            if (i < open) {
                Run& run = runs[i];
                if (can_join(run, pkt, s)) {
                    std::memcpy(run.head->data() + run.head->size(), pkt + s.ip_len + s.tcp_len,
                                s.payload_len);
                    run.head->set_size(run.head->size() + s.payload_len);
                    run.next_seq += static_cast<uint32_t>(s.payload_len);
                    ++run.segments;
                    // A PSH or a short segment is the last of a run (as in Linux GRO).
                    run.psh = (s.flags & kTcpPsh) != 0;
                    if (run.psh || s.payload_len < run.first.payload_len) close(i);
                    continue;
                }
                // Something of this flow goes out unmerged or starts anew: nothing after it may
                // be merged into a packet written before it.
                close(i);
            }
        }
        out.push_back(TunWrite{p, VnetHeader{}});
        if (!s.mergeable || (s.flags & kTcpPsh) != 0) continue;
        if (open == kMaxOpenRuns) close(0);
        runs[open++] =
            Run{p, out.size() - 1, s, s.seq + static_cast<uint32_t>(s.payload_len), 1, false};
    }
    while (open > 0)
        close(open - 1);
}

}  // namespace ipsecfs::netpath
