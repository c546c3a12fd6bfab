#pragma once
// Userspace GSO for the TUN read path: with IFF_VNET_HDR and TUNSETOFFLOAD(CSUM|TSO4|TSO6|TSO_ECN,
// and USO4|USO6 where the kernel has them) the kernel hands over TCP and UDP super-packets of up
// to 64 KB and packets whose transport checksum is only partly done (virtio 1.x §5.1.6.2). These
// are cut into segments and finished here, as Linux's inet_gso_segment()/ipv6_gso_segment() with
// tcp_gso_segment() or __udp_gso_segment(), and skb_checksum_help() would.

#include <cstddef>
#include <cstdint>
#include <span>

#include "netpath/packet.hpp"
#include "netpath/vnet_header.hpp"

namespace ipsecfs::netpath {

enum class SplitStatus : uint8_t {
    ok,
    malformed,    // the vnet header and the packet disagree, or the packet is cut short
    unsupported,  // UFO or an unknown gso_type, IPv6 extension headers before TCP, a segment
                  // larger than a Packet, or fewer output packets than needed
};

struct SplitResult {
    SplitStatus status;
    std::size_t count;  // packets written; valid only when status is ok
};

// How many packets gso_split() produces: 1 for a non-GSO packet, ceil(payload / gso_size) (at
// least 1) for a TCP or UDP super-packet; 0 when gso_split() would return malformed or unsupported.
std::size_t gso_segments_needed(const VnetHeader& h, std::span<const uint8_t> pkt);

// Writes the packets to out[0..count), each through reset() and set_size(): complete IP packets
// with a valid IPv4 header checksum and a valid transport checksum. A non-GSO packet is copied
// and its checksum completed when NEEDS_CSUM (its IP header is taken as the kernel wrote it).
// A super-packet's headers are parsed and checked (hdr_len is not trusted; a UDP one's length
// field must cover it all); segment i gets IPv4 total length and identification id0 + i (header
// checksum recomputed) or IPv6 payload length; for TCP sequence number seq0 + i * gso_size, FIN
// and PSH only if last, CWR only if first, and a full TCP checksum; for UDP its own length and a
// full checksum (0 sent as 0xffff). If out.size() < gso_segments_needed(), returns unsupported. On
// any status but ok nothing is written to out.
SplitResult gso_split(const VnetHeader& h, std::span<const uint8_t> pkt,
                      std::span<Packet* const> out);

// The same, a window at a time: writes segments first, first + 1, ... into out[0], out[1], ...
// as many as out holds and remain (count; 0 when first >= gso_segments_needed()). Each call
// parses the headers again, so a super-packet can be cut in slices of a batch.
SplitResult gso_split(const VnetHeader& h, std::span<const uint8_t> pkt,
                      std::span<Packet* const> out, std::size_t first);

// For a non-GSO packet with NEEDS_CSUM: sums [csum_start, end) (the field at csum_start +
// csum_offset holds the pseudo-header sum) and stores the complement there. As the kernel does, a
// result of 0 is stored as 0xffff (required for UDP, RFC 768; the same value to TCP and ICMP).
// Without NEEDS_CSUM it does nothing. false (packet unchanged) if the field does not fit.
bool complete_checksum(const VnetHeader& h, std::span<uint8_t> pkt);

}  // namespace ipsecfs::netpath
