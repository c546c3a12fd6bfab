#include "netpath/udp_coalesce.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "netpath/byte_order.hpp"
#include "netpath/gro_ip.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr std::size_t kUdpHeaderBytes = 8;
constexpr std::size_t kUdpChecksumOffset = 6;
constexpr std::size_t kMaxOpenRuns = kBatchSize;
constexpr std::size_t kMaxLengthField = 65535;

// What a write is to the coalescer: its IP side (`ip.keyed`: a UDP datagram whose addresses and
// ports are known, so it belongs to a flow); `mergeable`: it may also be part of a super-packet.
struct Datagram {
    GroIp ip;
    bool mergeable = false;
    std::size_t payload_len = 0;
};

Datagram classify(const TunWrite& w) {
    Datagram d;
    if (w.vnet.flags != 0 || w.vnet.gso_type != VnetHeader::kGsoNone) return d;
    const uint8_t* pkt = w.packet->data();
    const std::size_t size = w.packet->size();
    d.ip = parse_gro_ip(pkt, size, kProtoUdp);
    if (!d.ip.plain || size < d.ip.ip_len + kUdpHeaderBytes) return d;
    const std::size_t udp_total = size - d.ip.ip_len;
    if (get_be16(pkt + d.ip.ip_len + 4) != udp_total) return d;
    d.payload_len = udp_total - kUdpHeaderBytes;
    // A checksum of 0 is none (IPv4 only): merged, the datagram would come back with one.
    d.mergeable = d.payload_len > 0 && get_be16(pkt + d.ip.ip_len + kUdpChecksumOffset) != 0 &&
                  l4_checksum_valid(pkt, d.ip, kProtoUdp, udp_total);
    return d;
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
    if (!d.mergeable || !same_ip_fields(head, pkt, f.ip.version)) return false;
    if (f.ip.version == 4 && !ipv4_id_follows(head, pkt, run.segments)) return false;
    if (d.payload_len > f.payload_len || run.segments >= kMaxUdpSegments) return false;
    const std::size_t new_size = run.head->size() + d.payload_len;
    return new_size <= kMaxLengthField && d.payload_len <= run.head->tailroom();
}

void finish(const Run& run, std::vector<TunWrite>& writes) {
    if (run.segments < 2) return;
    const Datagram& f = run.first;
    uint8_t* pkt = run.head->data();
    const std::size_t size = run.head->size();
    uint8_t* udp = pkt + f.ip.ip_len;
    put_be16(udp + 4, size - f.ip.ip_len);
    // CHECKSUM_PARTIAL, as in tcp_coalesce: the pseudo-header sum over the super-packet's length;
    // the kernel's cut rewrites it for each datagram's length and completes it.
    put_be16(udp + kUdpChecksumOffset, finish_gro_ip(pkt, size, f.ip, kProtoUdp));

    VnetHeader& v = writes[run.out_index].vnet;
    v.flags = VnetHeader::kNeedsCsum;
    v.gso_type = VnetHeader::kGsoUdpL4;
    v.hdr_len = static_cast<uint16_t>(f.ip.ip_len + kUdpHeaderBytes);
    v.gso_size = static_cast<uint16_t>(f.payload_len);
    v.csum_start = static_cast<uint16_t>(f.ip.ip_len);
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
        if (d.ip.keyed) {
            std::size_t i = 0;
            while (i < open && !same_gro_flow(runs[i].head->data(), runs[i].first.ip, pkt, d.ip))
                ++i;
            if (i < open) {
                Run& run = runs[i];
                if (can_join(run, pkt, d)) {
                    std::memcpy(run.head->data() + run.head->size(),
                                pkt + d.ip.ip_len + kUdpHeaderBytes, d.payload_len);
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
