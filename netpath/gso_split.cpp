#include "netpath/gso_split.hpp"

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include "netpath/byte_order.hpp"
#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;
constexpr std::size_t kTcpHeaderBytes = 20;
constexpr std::size_t kTcpChecksumOffset = 16;
constexpr std::size_t kUdpHeaderBytes = 8;
constexpr std::size_t kUdpChecksumOffset = 6;
constexpr uint16_t kIpv4MoreFragments = 0x2000;
constexpr uint16_t kIpv4FragmentOffset = 0x1fff;

// A TCP or UDP super-packet as parsed from its own headers.
struct SuperPacket {
    SplitStatus status = SplitStatus::malformed;
    bool v4 = false;
    bool udp = false;
    std::size_t ip_len = 0;
    std::size_t hdr_len = 0;  // IP + TCP or UDP header
    std::size_t payload_len = 0;
    std::size_t segments = 0;
};

// RFC 8200 §4 and the IANA "IPv6 Extension Header Types" registry.
bool is_ipv6_extension_header(uint8_t next_header) {
    switch (next_header) {
        case 0:    // hop-by-hop options
        case 43:   // routing
        case 44:   // fragment
        case 51:   // AH
        case 60:   // destination options
        case 135:  // mobility
        case 139:  // HIP
        case 140:  // shim6
        case 253:
        case 254:  // experiments
            return true;
        default:
            return false;
    }
}

SuperPacket parse_super_packet(const VnetHeader& h, std::span<const uint8_t> pkt) {
    SuperPacket sp;
    const uint8_t type = h.gso_type & static_cast<uint8_t>(~VnetHeader::kGsoEcn);
    if (type != VnetHeader::kGsoTcpV4 && type != VnetHeader::kGsoTcpV6 &&
        type != VnetHeader::kGsoUdpL4) {
        sp.status = SplitStatus::unsupported;
        return sp;
    }
    if (h.gso_size == 0 || pkt.empty()) return sp;
    sp.udp = type == VnetHeader::kGsoUdpL4;
    // USO names no IP version: the packet's own says it (the kernel's virtio_net_hdr_to_skb()).
    sp.v4 = sp.udp ? (pkt[0] >> 4) == 4 : type == VnetHeader::kGsoTcpV4;
    const uint8_t proto = sp.udp ? kProtoUdp : kProtoTcp;
    const unsigned version = pkt[0] >> 4;
    if (sp.v4) {
        if (version != 4 || pkt.size() < kIpv4HeaderBytes) return sp;
        sp.ip_len = (pkt[0] & 0x0fu) * 4u;
        if (sp.ip_len < kIpv4HeaderBytes || get_be16(&pkt[2]) != pkt.size()) return sp;
        if ((get_be16(&pkt[6]) & (kIpv4MoreFragments | kIpv4FragmentOffset)) != 0) return sp;
        if (pkt[9] != proto) return sp;
    } else {
        if (version != 6 || pkt.size() < kIpv6HeaderBytes) return sp;
        sp.ip_len = kIpv6HeaderBytes;
        if (get_be16(&pkt[4]) + kIpv6HeaderBytes != pkt.size()) return sp;
        if (pkt[6] != proto) {
            if (is_ipv6_extension_header(pkt[6])) sp.status = SplitStatus::unsupported;
            return sp;
        }
    }
    std::size_t l4_len = kUdpHeaderBytes;
    if (!sp.udp) {
        if (sp.ip_len + kTcpHeaderBytes > pkt.size()) return sp;
        l4_len = (pkt[sp.ip_len + 12] >> 4) * 4u;
        if (l4_len < kTcpHeaderBytes) return sp;
    }
    sp.hdr_len = sp.ip_len + l4_len;
    if (sp.hdr_len > pkt.size()) return sp;
    // The UDP length field covers the whole super-packet, as the kernel's UDP GSO writes it.
    if (sp.udp && get_be16(&pkt[sp.ip_len + 4]) != pkt.size() - sp.ip_len) return sp;
    const std::size_t csum_offset = sp.udp ? kUdpChecksumOffset : kTcpChecksumOffset;
    if (h.needs_csum() && (h.csum_start != sp.ip_len || h.csum_offset != csum_offset)) return sp;
    sp.payload_len = pkt.size() - sp.hdr_len;
    sp.segments = std::max<std::size_t>(1, (sp.payload_len + h.gso_size - 1) / h.gso_size);
    const std::size_t largest = sp.hdr_len + std::min<std::size_t>(sp.payload_len, h.gso_size);
    sp.status = largest <= Packet::kMaxData ? SplitStatus::ok : SplitStatus::unsupported;
    return sp;
}

SplitStatus check_plain_packet(const VnetHeader& h, std::span<const uint8_t> pkt) {
    if (h.gso_type != VnetHeader::kGsoNone) return SplitStatus::unsupported;  // ECN alone
    if (pkt.empty()) return SplitStatus::malformed;
    if (pkt.size() > Packet::kMaxData) return SplitStatus::unsupported;
    if (h.needs_csum() && std::size_t{h.csum_start} + h.csum_offset + 2 > pkt.size())
        return SplitStatus::malformed;
    return SplitStatus::ok;
}

// What every segment's checksums share, summed once from the super-packet. Each segment then adds
// its own fields as values and its payload as read from the super-packet, never reading back the
// header or payload it has just stored: a wider load across fresh narrower stores (or the fast
// string stores of memcpy) stalls until they reach the cache.
struct SharedSums {
    uint64_t address = 0;  // the pseudo-header's addresses (RFC 9293 §3.1, RFC 8200 §8.1)
    uint32_t ipv4 = 0;     // the IPv4 header without total length, identification and checksum
    uint32_t l4 = 0;       // the TCP header without sequence number, offset/flags and checksum;
                           // the UDP header without length and checksum (the ports)
};

// The 16-bit words of pkt[from, to) but those at the offsets (from `from`) in skip.
uint32_t sum_words_except(std::span<const uint8_t> pkt, std::size_t from, std::size_t to,
                          std::initializer_list<std::size_t> skip) {
    uint32_t sum = 0;
    for (std::size_t at = from; at + 1 < to; at += 2) {
        if (std::find(skip.begin(), skip.end(), at - from) == skip.end()) sum += get_be16(&pkt[at]);
    }
    return sum;
}

SharedSums shared_sums(const SuperPacket& sp, std::span<const uint8_t> pkt) {
    SharedSums s;
    s.address = sp.v4 ? checksum_add(0, pkt.subspan(12, 8)) : checksum_add(0, pkt.subspan(8, 32));
    if (sp.v4) s.ipv4 = sum_words_except(pkt, 0, sp.ip_len, {2, 4, 10});
    s.l4 = sp.udp ? sum_words_except(pkt, sp.ip_len, sp.hdr_len, {4, kUdpChecksumOffset})
                  : sum_words_except(pkt, sp.ip_len, sp.hdr_len, {4, 6, 12, kTcpChecksumOffset});
    return s;
}

// Writes segment i of the super-packet to d; returns its length.
std::size_t write_segment(const SuperPacket& sp, uint16_t gso_size, std::span<const uint8_t> pkt,
                          std::size_t i, const SharedSums& sums, uint8_t* d) {
    const uint8_t* src = pkt.data();
    const std::size_t offset = i * gso_size;
    const std::size_t len = std::min<std::size_t>(gso_size, sp.payload_len - offset);
    const std::size_t size = sp.hdr_len + len;
    const uint8_t* payload = src + sp.hdr_len + offset;
    std::memcpy(d, src, sp.hdr_len);
    std::memcpy(d + sp.hdr_len, payload, len);

    if (sp.v4) {
        const auto id = static_cast<uint16_t>(get_be16(&src[4]) + i);
        put_be16(&d[2], size);
        put_be16(&d[4], id);
        put_be16(&d[10], checksum_finish(sums.ipv4 + static_cast<uint16_t>(size) + id));
    } else {
        put_be16(&d[4], size - kIpv6HeaderBytes);
    }

    const std::size_t l4_total = size - sp.ip_len;
    uint8_t* l4 = d + sp.ip_len;
    // The pseudo-header, the fixed header words and the payload (it starts at an even offset:
    // both headers are whole 32-bit words, so its words line up with the segment's).
    uint64_t sum = checksum_add(
        sums.address + (sp.udp ? kProtoUdp : kProtoTcp) + l4_total + sums.l4, {payload, len});
    if (sp.udp) {
        // RFC 768: each datagram its own length and full checksum (__udp_gso_segment()), and a
        // sum of 0 sent as 0xffff.
        put_be16(&l4[4], l4_total);
        const uint16_t csum = checksum_finish(sum + l4_total);
        put_be16(&l4[kUdpChecksumOffset], csum == 0 ? 0xffff : csum);
        return size;
    }
    // RFC 9293 §3.1; the flags as tcp_gso_segment() leaves them.
    const uint8_t* tcp = src + sp.ip_len;
    const auto seq = static_cast<uint32_t>(get_be32(&tcp[4]) + offset);
    uint8_t flags = tcp[13];
    if (i + 1 < sp.segments) flags = static_cast<uint8_t>(flags & ~(kTcpFin | kTcpPsh));
    if (i > 0) flags = static_cast<uint8_t>(flags & ~kTcpCwr);
    put_be32(&l4[4], seq);
    l4[13] = flags;
    sum += (seq >> 16) + (seq & 0xffffu) + (uint32_t{tcp[12]} << 8 | flags);
    put_be16(&l4[kTcpChecksumOffset], checksum_finish(sum));
    return size;
}

}  // namespace

std::size_t gso_segments_needed(const VnetHeader& h, std::span<const uint8_t> pkt) {
    if (h.gso_type == VnetHeader::kGsoNone || h.gso_type == VnetHeader::kGsoEcn)
        return check_plain_packet(h, pkt) == SplitStatus::ok ? 1 : 0;
    const SuperPacket sp = parse_super_packet(h, pkt);
    return sp.status == SplitStatus::ok ? sp.segments : 0;
}

SplitResult gso_split(const VnetHeader& h, std::span<const uint8_t> pkt,
                      std::span<Packet* const> out) {
    const std::size_t needed = gso_segments_needed(h, pkt);
    if (needed != 0 && out.size() < needed) return {SplitStatus::unsupported, 0};
    return gso_split(h, pkt, out, 0);
}

SplitResult gso_split(const VnetHeader& h, std::span<const uint8_t> pkt,
                      std::span<Packet* const> out, std::size_t first) {
    if (h.gso_type == VnetHeader::kGsoNone || h.gso_type == VnetHeader::kGsoEcn) {
        const SplitStatus s = check_plain_packet(h, pkt);
        if (s != SplitStatus::ok) return {s, 0};
        if (first > 0 || out.empty()) return {SplitStatus::ok, 0};
        const std::span<uint8_t> d = out[0]->reset().first(pkt.size());
        std::memcpy(d.data(), pkt.data(), pkt.size());
        complete_checksum(h, d);
        out[0]->set_size(pkt.size());
        return {SplitStatus::ok, 1};
    }

    const SuperPacket sp = parse_super_packet(h, pkt);
    if (sp.status != SplitStatus::ok) return {sp.status, 0};
    if (first >= sp.segments) return {SplitStatus::ok, 0};
    const std::size_t count = std::min(out.size(), sp.segments - first);
    const SharedSums sums = shared_sums(sp, pkt);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t size =
            write_segment(sp, h.gso_size, pkt, first + i, sums, out[i]->reset().data());
        out[i]->set_size(size);
    }
    return {SplitStatus::ok, count};
}

bool complete_checksum(const VnetHeader& h, std::span<uint8_t> pkt) {
    if (!h.needs_csum()) return true;
    const std::size_t field = std::size_t{h.csum_start} + h.csum_offset;
    if (field + 2 > pkt.size()) return false;
    const uint16_t csum = checksum_finish(checksum_add(0, pkt.subspan(h.csum_start)));
    put_be16(&pkt[field], csum == 0 ? 0xffff : csum);
    return true;
}

}  // namespace ipsecfs::netpath
