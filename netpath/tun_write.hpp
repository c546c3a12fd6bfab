#pragma once
// One packet for the TUN write path and the virtio-net header it goes out with: zero for a plain
// packet, a GSO header for a super-packet the coalescers made (tcp_coalesce, udp_coalesce).

#include "netpath/packet.hpp"
#include "netpath/vnet_header.hpp"

namespace ipsecfs::netpath {

struct TunWrite {
    Packet* packet;
    VnetHeader vnet;
};

}  // namespace ipsecfs::netpath
