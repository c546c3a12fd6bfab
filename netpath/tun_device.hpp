#pragma once
// The clear side: a TUN device (like wireguard-go's tun.Device). The Linux implementation
// opens /dev/net/tun; tests substitute an in-memory one.

#include <cstddef>
#include <memory>
#include <span>
#include <string>

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

// Creates (or attaches to) the TUN device `name`, brings it up, non-blocking.
Result<std::unique_ptr<TunDevice>> open_linux_tun(const std::string& name);

// MTU of a network device, or 0 if it does not exist.
unsigned device_mtu(const std::string& name);

}  // namespace ipsecfs::netpath
