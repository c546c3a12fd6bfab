#pragma once
// The IP side of userspace GRO, shared by tcp_coalesce and udp_coalesce: which packets belong to
// one flow, which IP fields must match for packets to merge (as Linux inet_gro_receive() and
// ipv6_gro_receive() ask), and the IP header of a merged super-packet.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "netpath/byte_order.hpp"
#include "netpath/inet_checksum.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {

struct GroIp {
    bool keyed = false;  // an IPv4 or IPv6 packet of the protocol with its ports in the packet
    bool plain = false;  // and no IP options, extension headers or fragmentation; length = size
    uint8_t version = 0;
    std::size_t ip_len = 0;
    uint32_t flow_hash = 0;  // for a quick mismatch before comparing addresses and ports
};

inline GroIp parse_gro_ip(const uint8_t* pkt, std::size_t size, uint8_t proto) {
    GroIp g;
    if (size < 1) return g;
    g.version = pkt[0] >> 4;
    std::size_t total = 0;
    bool plain = false;
    if (g.version == 4) {
        if (size < kIpv4HeaderBytes || pkt[9] != proto) return g;
        g.ip_len = (pkt[0] & 0x0fu) * 4u;
        const uint16_t frag = get_be16(&pkt[6]);
        if (g.ip_len < kIpv4HeaderBytes || (frag & 0x1fff) != 0) return g;
        total = get_be16(&pkt[2]);
        plain = g.ip_len == kIpv4HeaderBytes && (frag & 0x2000) == 0 &&
                ipv4_checksum({pkt, kIpv4HeaderBytes}) == 0;
    } else if (g.version == 6) {
        if (size < kIpv6HeaderBytes || pkt[6] != proto) return g;
        g.ip_len = kIpv6HeaderBytes;
        total = kIpv6HeaderBytes + get_be16(&pkt[4]);
        plain = true;
    } else {
        return g;
    }
    if (size < g.ip_len + 4) return g;
    g.keyed = true;
    g.flow_hash = get_be32(pkt + g.ip_len) ^ get_be32(pkt + (g.version == 4 ? 12 : 20)) ^
                  get_be32(pkt + (g.version == 4 ? 16 : 36));
    g.plain = plain && total == size;
    return g;
}

// Whether the transport checksum over the l4_total bytes after the IP header verifies.
inline bool l4_checksum_valid(const uint8_t* pkt, const GroIp& g, uint8_t proto,
                              std::size_t l4_total) {
    const std::size_t addr_len = g.version == 4 ? 4 : 16;
    const std::size_t addr_at = g.version == 4 ? 12 : 8;
    uint64_t sum =
        pseudo_header_sum({pkt + addr_at, addr_len}, {pkt + addr_at + addr_len, addr_len}, proto,
                          static_cast<uint32_t>(l4_total));
    sum = checksum_add(sum, {pkt + g.ip_len, l4_total});
    return checksum_fold(sum) == 0xffff;
}

// Same addresses and ports (both packets keyed with the same protocol).
inline bool same_gro_flow(const uint8_t* a, const GroIp& ia, const uint8_t* b, const GroIp& ib) {
    if (ia.flow_hash != ib.flow_hash || ia.version != ib.version) return false;
    const bool addresses =
        ia.version == 4 ? std::memcmp(a + 12, b + 12, 8) == 0 : std::memcmp(a + 8, b + 8, 32) == 0;
    return addresses && std::memcmp(a + ia.ip_len, b + ib.ip_len, 4) == 0;
}

inline bool same_ip_fields(const uint8_t* a, const uint8_t* b, uint8_t version) {
    if (version == 4)  // TOS, TTL and the flags (DF; MF is clear)
        return a[1] == b[1] && a[8] == b[8] && (a[6] >> 5) == (b[6] >> 5);
    // Version, traffic class and flow label; hop limit.
    return std::memcmp(a, b, 4) == 0 && a[7] == b[7];
}

// Without DF the identification must count up by one per segment, as the kernel will give it
// when it cuts the super-packet again (inet_gso_segment(); Linux's GRO asks the same, RFC 6864
// §4.1). `merged`: how many packets the head's super-packet holds so far.
inline bool ipv4_id_follows(const uint8_t* head, const uint8_t* pkt, unsigned merged) {
    return (head[6] & 0x40) != 0 ||
           get_be16(pkt + 4) == static_cast<uint16_t>(get_be16(head + 4) + merged);
}

// Gives a super-packet of `size` bytes its IP length (IPv4 with a new header checksum) and
// returns the folded pseudo-header sum over its transport part, not complemented: what the
// transport checksum field holds for CHECKSUM_PARTIAL (the kernel's cut adds the rest).
inline uint16_t finish_gro_ip(uint8_t* pkt, std::size_t size, const GroIp& g, uint8_t proto) {
    const std::size_t l4_total = size - g.ip_len;
    std::size_t addr_at = 8;
    std::size_t addr_len = 16;
    if (g.version == 4) {
        put_be16(pkt + 2, size);
        pkt[10] = pkt[11] = 0;
        put_be16(pkt + 10, ipv4_checksum({pkt, kIpv4HeaderBytes}));
        addr_at = 12;
        addr_len = 4;
    } else {
        put_be16(pkt + 4, l4_total);
    }
    return checksum_fold(pseudo_header_sum({pkt + addr_at, addr_len},
                                           {pkt + addr_at + addr_len, addr_len}, proto,
                                           static_cast<uint32_t>(l4_total)));
}

}  // namespace ipsecfs::netpath
