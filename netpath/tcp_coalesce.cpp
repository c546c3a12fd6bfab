#include "netpath/tcp_coalesce.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "netpath/byte_order.hpp"
#include "netpath/gro_ip.hpp"
#include "netpath/inet_checksum.hpp"

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

// What a packet is to the coalescer: its IP side (`ip.keyed`: a TCP packet whose addresses and
// ports are known, so it belongs to a flow); `mergeable`: it may also be part of a super-packet.
struct Segment {
    GroIp ip;
    bool mergeable = false;
    std::size_t tcp_len = 0;
    std::size_t payload_len = 0;
    uint32_t seq = 0;
    uint8_t flags = 0;
};

Segment classify(const Packet& p) {
    Segment s;
    const uint8_t* pkt = p.data();
    const std::size_t size = p.size();
    s.ip = parse_gro_ip(pkt, size, kProtoTcp);
    if (!s.ip.plain || size < s.ip.ip_len + kTcpHeaderBytes) return s;
    const uint8_t* tcp = pkt + s.ip.ip_len;
    s.tcp_len = (tcp[12] >> 4) * 4u;
    if (s.tcp_len < kTcpHeaderBytes || s.ip.ip_len + s.tcp_len > size) return s;
    s.payload_len = size - s.ip.ip_len - s.tcp_len;
    s.seq = get_be32(tcp + 4);
    s.flags = tcp[13];
    // Only ACK, optionally PSH; the reserved bits and AE clear.
    if ((tcp[12] & 0x0f) != 0 || (s.flags & ~kTcpPsh) != kTcpAck) return s;
    s.mergeable =
        s.payload_len > 0 && l4_checksum_valid(pkt, s.ip, kProtoTcp, s.tcp_len + s.payload_len);
    return s;
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
    if (!s.mergeable || !same_ip_fields(head, seg, f.ip.version)) return false;
    if (f.ip.version == 4 && !ipv4_id_follows(head, seg, run.segments)) return false;
    if (s.tcp_len != f.tcp_len || s.seq != run.next_seq || s.payload_len > f.payload_len)
        return false;
    const uint8_t* ht = head + f.ip.ip_len;
    const uint8_t* st = seg + s.ip.ip_len;
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
    uint8_t* tcp = pkt + f.ip.ip_len;
    // The kernel sets PSH on the last segment it cuts (tcp_gso_segment()).
    if (run.psh) tcp[13] |= kTcpPsh;
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum; the device (here the
    // kernel's segmentation) adds the sum from csum_start to the end and complements.
    put_be16(tcp + kTcpChecksumOffset, finish_gro_ip(pkt, run.head->size(), f.ip, kProtoTcp));

    VnetHeader& v = out[run.out_index].vnet;
    v.flags = VnetHeader::kNeedsCsum;
    v.gso_type = f.ip.version == 4 ? VnetHeader::kGsoTcpV4 : VnetHeader::kGsoTcpV6;
    v.hdr_len = static_cast<uint16_t>(f.ip.ip_len + f.tcp_len);
    v.gso_size = static_cast<uint16_t>(f.payload_len);
    v.csum_start = static_cast<uint16_t>(f.ip.ip_len);
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
        if (s.ip.keyed) {
            std::size_t i = 0;
            while (i < open && !same_gro_flow(runs[i].head->data(), runs[i].first.ip, pkt, s.ip))
                ++i;
            if (i < open) {
                Run& run = runs[i];
                if (can_join(run, pkt, s)) {
                    std::memcpy(run.head->data() + run.head->size(), pkt + s.ip.ip_len + s.tcp_len,
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
