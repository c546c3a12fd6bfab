#pragma once
// Userspace UDP GRO for the TUN write path, where the kernel takes UDP super-packets (TUNSETOFFLOAD
// with USO4/USO6, Linux 6.2+): consecutive datagrams of one flow are merged into one packet with a
// GSO_UDP_L4 virtio-net header, which the kernel cuts again (__udp_gso_segment()) before it
// delivers or forwards them. The rules are those of Linux udp_gro_receive_segment(): one flow,
// equal payload sizes but a shorter last, the same IP fields. One write then carries a run of
// small datagrams, which is what a stream of small UDP packets costs most in syscalls.

#include <cstddef>
#include <vector>

#include "netpath/tun_write.hpp"

namespace ipsecfs::netpath {

// Merges runs among the writes that carry no vnet header yet (what coalesce_tcp() left alone),
// in place: a merged run's first write gets the super-packet and its header (gso_type UDP_L4,
// gso_size = the datagrams' payload size, hdr_len = IP + UDP header length, flags NEEDS_CSUM,
// csum_start = IP header length, csum_offset = 6, UDP length over the whole super-packet and its
// checksum field set to the pseudo-header sum, not complemented, as for CHECKSUM_PARTIAL; IPv4
// total length and header checksum / IPv6 payload length rewritten); the writes merged into it
// are removed. Merged only: datagrams whose checksum verifies and is not 0 (so that the kernel's
// cut gives the same bytes back), without DF in IPv4 only with identifications counting up (the
// kernel numbers the segments so), at most kMaxUdpSegments in a run and 64 KB in all. Other writes
// are left as they are and in their order; the order within each flow is kept.
inline constexpr std::size_t kMaxUdpSegments = 64;  // UDP_MAX_SEGMENTS before Linux 6.11
void coalesce_udp(std::vector<TunWrite>& writes);

}  // namespace ipsecfs::netpath
