#pragma once
// The protected side: how ESP/AH/IPCOMP packets reach the peer (like wireguard-go's
// conn.Bind). The Linux implementation uses raw IP sockets and UDP port 4500 (RFC 3948) with
// recvmmsg/sendmmsg; tests substitute an in-memory pair.

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "core/dataplane_status.hpp"
#include "core/result.hpp"
#include "netpath/packet.hpp"

namespace ipsecfs::netpath {

class OuterTransport {
  public:
    virtual ~OuterTransport() = default;
    // Receives up to packets.size() packets without blocking. Each arrives as a full IP packet
    // (a header is rebuilt for IPv6 raw and UDP-encapsulated ones) with pkt.outer filled in.
    virtual std::size_t receive(std::span<Packet* const> packets) = 0;
    // Sends each packet as pkt.outer says; returns how many the kernel took.
    virtual std::size_t send(std::span<Packet* const> packets) = 0;
    // Readable when receive() has something.
    virtual int poll_fd() const = 0;
};

struct LinuxTransportOptions {
    std::string bind_device;  // SO_BINDTODEVICE on every socket when set
    uint16_t natt_port = 4500;
};

Result<std::unique_ptr<OuterTransport>> open_linux_transport(const LinuxTransportOptions& options,
                                                             DataplaneStatus& status);

}  // namespace ipsecfs::netpath
