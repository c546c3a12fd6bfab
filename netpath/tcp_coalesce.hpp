#pragma once
// Userspace GRO for the TUN write path: consecutive TCP segments of one flow in a batch are
// merged into one super-packet that the kernel (IFF_VNET_HDR with TUNSETOFFLOAD TSO4/TSO6) takes
// with a GSO virtio-net header, as Linux tcp_gro_receive() and wireguard-go's tcpGRO do.

#include <span>
#include <vector>

#include "netpath/packet.hpp"
#include "netpath/tun_write.hpp"

namespace ipsecfs::netpath {

// Coalesces the batch: appends one TunWrite per packet to write (merged super-packets carry a GSO
// vnet header: gso_type TCPV4/TCPV6, gso_size = the segments' payload size, hdr_len = IP+TCP
// header length, flags NEEDS_CSUM, csum_start = IP header length, csum_offset = 16, and the TCP
// checksum field set to the pseudo-header sum (not complemented) over the super-packet's length,
// as the kernel expects for CHECKSUM_PARTIAL; IPv4 total length and header checksum / IPv6
// payload length rewritten). Unmerged packets get a zero VnetHeader and are left byte-for-byte
// unchanged. Packets consumed into an earlier one are not in `out`. The order of packets within
// one flow is kept; out is cleared first.
void coalesce_tcp(std::span<Packet* const> packets, std::vector<TunWrite>& out);

}  // namespace ipsecfs::netpath
