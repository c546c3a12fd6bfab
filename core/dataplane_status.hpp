#pragma once
// What the packet engine reports about itself: the TUN device line of ipsec_tncfg and the
// daemon-wide packet and drop totals (the `stats` file). Written by netpath, read by fs.

#include <array>
#include <mutex>
#include <string>

#include "core/drop_reason.hpp"
#include "core/sa.hpp"

namespace ipsecfs {

struct TunnelStatus {
    std::string tun_name = "ipsec0";
    std::string outer_dev;  // empty: not bound to a device (printed as NULL)
    unsigned tun_mtu = 0;
    unsigned path_mtu = 0;
    unsigned outer_mtu = 0;
};

class DataplaneStatus {
  public:
    void set_tunnel(TunnelStatus t) {
        std::lock_guard lock(mutex_);
        tunnel_ = std::move(t);
        has_tunnel_ = true;
    }
    // False when no packet engine runs (then ipsec_tncfg is empty).
    bool tunnel(TunnelStatus& out) const {
        std::lock_guard lock(mutex_);
        out = tunnel_;
        return has_tunnel_;
    }

    // The next eight each have one writer, the outbound or the inbound lane (add_owned); drops
    // come from both.
    Counter packets_out;  // clear packets read from the TUN device (TCP segments one by one)
    Counter packets_in;   // clear packets written to the TUN device (TCP segments one by one)
    Counter esp_out;      // protected packets sent
    Counter esp_in;       // protected packets received
    // What crossed the TUN device as the kernel counts it: with offloads one frame may be a TCP
    // super-packet of many segments (ipsec0's tx_* and rx_* statistics equal these).
    Counter tun_read_frames;
    Counter tun_read_bytes;
    Counter tun_write_frames;
    Counter tun_write_bytes;
    std::array<Counter, kDropReasonCount> drops;

    void count_drop(DropReason r, uint64_t n = 1) { drops[static_cast<std::size_t>(r)].add(n); }

  private:
    mutable std::mutex mutex_;
    TunnelStatus tunnel_;
    bool has_tunnel_ = false;
};

}  // namespace ipsecfs
