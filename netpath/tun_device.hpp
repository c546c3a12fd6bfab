#pragma once
// The clear side: a TUN device (like wireguard-go's tun.Device). The Linux implementation
// opens /dev/net/tun with a virtio-net header and TCP offloads (and UDP ones where the kernel has
// them): the kernel hands over super-packets, which read() cuts into segments (gso_split), and
// write() coalesces TCP segments of one flow back into super-packets (tcp_coalesce), and with USO
// also runs of UDP datagrams (udp_coalesce), so both kernels' stacks and the TUN see one packet
// per ~64 KB of TCP, or per run of datagrams, instead of one per segment. Tests substitute an
// in-memory device.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/dataplane_status.hpp"
#include "core/result.hpp"
#include "netpath/packet.hpp"
#include "netpath/unique_fd.hpp"

namespace ipsecfs::netpath {

class TunDevice {
  public:
    virtual ~TunDevice() = default;
    // Reads up to packets.size() packets without blocking; returns how many.
    virtual std::size_t read(std::span<Packet* const> packets) = 0;
    // Writes the packets; returns how many the device took.
    virtual std::size_t write(std::span<Packet* const> packets) = 0;
    // Readable when read() has something.
    virtual int poll_fd() const = 0;
    virtual Result<void> set_mtu(unsigned mtu) = 0;
    virtual const std::string& name() const = 0;
};

// What the device and the kernel exchange besides plain packets.
enum class TunOffload : uint8_t {
    none,     // one plain packet per read and write
    tcp,      // a virtio-net header; TCP super-packets both ways, partial checksums
    tcp_udp,  // also UDP super-packets (USO, Linux 6.2+)
};

// Creates (or attaches to) the TUN device `name`, brings it up, non-blocking. With offloads
// (IFF_VNET_HDR and TUNSETOFFLOAD CSUM/TSO4/TSO6/TSO_ECN, and USO4/USO6) as far as the kernel
// takes them; IPSECFS_TUN_OFFLOAD=0 asks for none, =tcp for no USO. Packets the kernel hands over
// malformed count as drops in status.
Result<std::unique_ptr<TunDevice>> open_linux_tun(const std::string& name, DataplaneStatus& status);

// The read/write logic over any packet-preserving fd (a TUN fd, or a datagram socketpair in
// tests), with the offloads the kernel side agreed to.
std::unique_ptr<TunDevice> make_fd_tun(UniqueFd fd, std::string name, TunOffload offload,
                                       DataplaneStatus& status);

// MTU of a network device, or 0 if it does not exist.
unsigned device_mtu(const std::string& name);

}  // namespace ipsecfs::netpath
