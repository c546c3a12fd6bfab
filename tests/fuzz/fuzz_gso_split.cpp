// Userspace GSO (netpath/gso_split) on whatever a TUN with IFF_VNET_HDR could hand over: a
// virtio-net header and a packet. gso_split() gives exactly gso_segments_needed() packets or
// refuses without writing; a window at a time gives the same packets as all at once; every
// segment of a TCP super-packet has a valid IPv4 header checksum and TCP checksum, its slice of
// the payload, its sequence number and the flags tcp_gso_segment() leaves; every datagram of a
// UDP one (USO) its slice, its own UDP length and a checksum that verifies and is not 0; a
// NEEDS_CSUM packet is
// copied with its checksum completed as complete_checksum() does on a copy, and that sum closes.
//
// Input: the 10-byte virtio-net header (little-endian), then the packet. Seeds: make_seeds.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "netpath/byte_order.hpp"
#include "netpath/gso_split.hpp"
#include "netpath/packet.hpp"
#include "netpath/vnet_header.hpp"
#include "tests/support/reference_checksum.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;
using ipsecfs::testing::fold;
using ipsecfs::testing::sum16;

constexpr std::size_t kWindowMax = 17;
constexpr std::size_t kUntouched = 7;  // a size gso_split() never leaves in a packet it wrote
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_gso_split: %s\n", what);
    __builtin_trap();
}

void mark_untouched(std::span<Packet* const> packets) {
    for (Packet* p : packets)
        p->set_view(0, kUntouched);
}

bool untouched(std::span<Packet* const> packets) {
    return std::all_of(packets.begin(), packets.end(),
                       [](const Packet* p) { return p->offset() == 0 && p->size() == kUntouched; });
}

bool same_bytes(const Packet& a, const Packet& b) {
    return std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin(), b.bytes().end());
}

// The super-packet as read here, independently of gso_split.cpp, once it said it is one.
struct Layout {
    bool v4;
    bool udp;
    std::size_t ip;
    std::size_t hdr;
    std::size_t payload;
};

Layout layout_of(const VnetHeader& h, std::span<const uint8_t> pkt) {
    Layout l;
    const int type = h.gso_type & ~VnetHeader::kGsoEcn;
    l.udp = type == VnetHeader::kGsoUdpL4;
    require(l.udp || type == VnetHeader::kGsoTcpV4 || type == VnetHeader::kGsoTcpV6,
            "a super-packet of a type never offered");
    require(pkt.size() >= 20, "a super-packet shorter than an IPv4 header");
    l.v4 = l.udp ? (pkt[0] >> 4) == 4 : type == VnetHeader::kGsoTcpV4;
    l.ip = l.v4 ? (pkt[0] & 0x0fu) * 4u : 40;
    require((pkt[0] >> 4) == (l.v4 ? 4 : 6), "a super-packet of the other IP version");
    require(pkt.size() >= l.ip + (l.udp ? 8 : 20), "a super-packet shorter than its headers");
    l.hdr = l.ip + (l.udp ? 8 : (pkt[l.ip + 12] >> 4) * 4u);
    require(l.hdr >= l.ip + (l.udp ? 8u : 20u) && l.hdr <= pkt.size(),
            "a transport header outside the packet");
    require((l.v4 ? get_be16(&pkt[2]) : get_be16(&pkt[4]) + 40u) == pkt.size(),
            "a wrong IP length");
    const uint8_t proto = l.udp ? 17 : 6;
    require(l.v4 ? pkt[9] == proto : pkt[6] == proto, "a super-packet of another protocol");
    if (l.udp)
        require(get_be16(&pkt[l.ip + 4]) + l.ip == pkt.size(), "a UDP length short of it all");
    l.payload = pkt.size() - l.hdr;
    return l;
}

void check_segment(const VnetHeader& h, std::span<const uint8_t> pkt, const Layout& l,
                   std::size_t i, std::size_t count, std::span<const uint8_t> seg) {
    const std::size_t g = h.gso_size;
    const std::size_t offset = i * g;
    require(offset < l.payload || (i == 0 && l.payload == 0), "a segment past the payload");
    const std::size_t len = std::min(g, l.payload - offset);
    require(seg.size() == l.hdr + len, "a segment of the wrong size");
    require(std::equal(seg.begin() + static_cast<std::ptrdiff_t>(l.hdr), seg.end(),
                       pkt.begin() + static_cast<std::ptrdiff_t>(l.hdr + offset)),
            "a segment's payload is not its slice");
    for (std::size_t b = 0; b < l.hdr; ++b) {
        const bool changes = l.v4 ? (b >= 2 && b < 6) || (b >= 10 && b < 12) : (b >= 4 && b < 6);
        const bool l4_changes = l.udp ? b >= l.ip + 4 && b < l.ip + 8
                                      : (b >= l.ip + 4 && b < l.ip + 8) || b == l.ip + 13 ||
                                            (b >= l.ip + 16 && b < l.ip + 18);
        if (!changes && !l4_changes) require(seg[b] == pkt[b], "a header byte that changed");
    }
    if (l.v4) {
        require(get_be16(&seg[2]) == seg.size(), "IPv4 total length of a segment");
        require(get_be16(&seg[4]) == static_cast<uint16_t>(get_be16(&pkt[4]) + i),
                "IPv4 ID of a segment");
        require(fold(sum16(seg.data(), l.ip)) == 0xffff, "IPv4 header checksum of a segment");
    } else {
        require(get_be16(&seg[4]) + 40u == seg.size(), "IPv6 payload length of a segment");
    }
    const std::size_t l4 = seg.size() - l.ip;
    uint64_t sum = l.v4 ? sum16(seg.data() + 12, 8) : sum16(seg.data() + 8, 32);
    sum += (l.udp ? 17 : 6) + (l4 >> 16) + (l4 & 0xffff);
    if (l.udp) {
        require(get_be16(&seg[l.ip + 4]) == l4, "UDP length of a datagram");
        require(get_be16(&seg[l.ip + 6]) != 0, "a UDP checksum of 0 (must be 0xffff)");
        require(fold(sum16(seg.data() + l.ip, l4, sum)) == 0xffff, "UDP checksum of a datagram");
        return;
    }
    require(get_be32(&seg[l.ip + 4]) == static_cast<uint32_t>(get_be32(&pkt[l.ip + 4]) + offset),
            "sequence number of a segment");
    uint8_t flags = pkt[l.ip + 13];
    if (i + 1 < count) flags = static_cast<uint8_t>(flags & ~(kTcpFin | kTcpPsh));
    if (i > 0) flags = static_cast<uint8_t>(flags & ~kTcpCwr);
    require(seg[l.ip + 13] == flags, "TCP flags of a segment");
    require(fold(sum16(seg.data() + l.ip, l4, sum)) == 0xffff, "TCP checksum of a segment");
}

// complete_checksum() on a copy: done exactly when the field fits, nothing else changed, and
// (for a field at an even offset, where the words line up) the sum from csum_start with the
// pseudo-header sum that was in the field now closes.
Bytes completed_copy(const VnetHeader& h, std::span<const uint8_t> pkt) {
    Bytes copy(pkt.begin(), pkt.end());
    const bool done = complete_checksum(h, copy);
    const std::size_t field = std::size_t{h.csum_start} + h.csum_offset;
    require(done == (!h.needs_csum() || field + 2 <= pkt.size()), "complete_checksum's answer");
    for (std::size_t b = 0; b < pkt.size(); ++b) {
        if (!done || !h.needs_csum() || b < field || b >= field + 2)
            require(copy[b] == pkt[b], "complete_checksum changed more than its field");
    }
    if (done && h.needs_csum() && h.csum_offset % 2 == 0) {
        const uint64_t partial = get_be16(&pkt[field]);
        const std::size_t n = pkt.size() - h.csum_start;
        require(fold(sum16(copy.data() + h.csum_start, n, partial)) == 0xffff,
                "a completed checksum that does not verify");
        require(get_be16(&copy[field]) != 0, "a completed checksum of 0 (must be 0xffff)");
    }
    return copy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static PacketPool full_pool(kBatchSize);
    static PacketPool window_pool(kWindowMax);
    if (size < kVnetHeaderBytes) return 0;
    const VnetHeader h =
        parse_vnet_header(std::span<const uint8_t, kVnetHeaderBytes>(data, kVnetHeaderBytes));
    const std::span<const uint8_t> pkt(data + kVnetHeaderBytes, size - kVnetHeaderBytes);
    const std::size_t needed = gso_segments_needed(h, pkt);
    const Bytes completed = completed_copy(h, pkt);
    const std::span<Packet* const> full = full_pool.all();
    const std::span<Packet* const> window = window_pool.all();

    mark_untouched(full);
    const SplitResult all = gso_split(h, pkt, full);
    if (needed == 0 || needed > full.size()) {
        require(all.status != SplitStatus::ok, "gso_split gave what it said it would not");
        require(untouched(full), "gso_split wrote packets and refused");
        mark_untouched(window);
        const SplitResult w = gso_split(h, pkt, window.first(1), 0);
        require((needed == 0) == (w.status != SplitStatus::ok), "windowed and full disagree");
        if (needed == 0) {
            require(w.status == all.status, "windowed and full refuse differently");
            require(untouched(window), "gso_split wrote a window and refused");
            return 0;
        }
    } else {
        require(all.status == SplitStatus::ok && all.count == needed,
                "gso_split gave other than gso_segments_needed() packets");
        require(untouched(full.subspan(needed)), "gso_split wrote past its segments");
        if (needed > 1) {
            mark_untouched(window);
            const SplitResult few =
                gso_split(h, pkt, window.first(std::min(needed - 1, kWindowMax)));
            require(few.status == SplitStatus::unsupported && untouched(window),
                    "gso_split took too few packets");
        }
    }

    if (!h.is_gso()) {
        require(needed == 1, "a plain packet is not one packet");
        require(std::equal(completed.begin(), completed.end(), full[0]->bytes().begin(),
                           full[0]->bytes().end()),
                "a plain packet is not its copy with the checksum completed");
        const SplitResult later = gso_split(h, pkt, window, 1);
        require(later.status == SplitStatus::ok && later.count == 0, "a plain packet twice");
        return 0;
    }

    const Layout l = layout_of(h, pkt);
    require(needed == std::max<std::size_t>(1, (l.payload + h.gso_size - 1) / h.gso_size),
            "gso_segments_needed is not ceil(payload / gso_size)");
    const bool have_full = needed <= full.size();
    if (have_full) {
        for (std::size_t i = 0; i < needed; ++i)
            check_segment(h, pkt, l, i, needed, full[i]->bytes());
    }
    // Long ones a large window at a time only, checking each segment on its own.
    for (const std::size_t w : {std::size_t{1}, std::size_t{5}, kWindowMax}) {
        if (!have_full && w != kWindowMax) continue;
        std::size_t first = 0;
        for (;;) {
            mark_untouched(window);
            const SplitResult r = gso_split(h, pkt, window.first(w), first);
            require(r.status == SplitStatus::ok, "a window refused");
            require(r.count == std::min(w, needed - std::min(first, needed)),
                    "a window of the wrong count");
            require(untouched(window.subspan(r.count)), "a window written past its count");
            for (std::size_t i = 0; i < r.count; ++i) {
                if (have_full) {
                    require(same_bytes(*window[i], *full[first + i]), "windowed != full");
                } else {
                    check_segment(h, pkt, l, first + i, needed, window[i]->bytes());
                }
            }
            if (r.count == 0) break;
            first += r.count;
        }
        require(first == needed, "windows gave other than gso_segments_needed() packets");
    }
    return 0;
}
