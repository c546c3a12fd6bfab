#pragma once
// The packet threads and the two lanes they serve. Each lane moves batches: read many,
// transform many, write many.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/dataplane_status.hpp"
#include "core/result.hpp"
#include "core/sadb.hpp"
#include "netpath/outer_transport.hpp"
#include "netpath/tun_device.hpp"

namespace ipsecfs::netpath {

struct WorkerContext {
    const Sadb& sadb;
    TunDevice& tun;
    OuterTransport& transport;
    DataplaneStatus& status;
    std::function<int64_t()> now_ns;
    int stop_fd;  // readable once the packet threads must return
};

// The outbound lane (TUN → eroute → SA group → transforms → outer sockets) and the inbound
// lane (outer sockets → SA → transforms unwound → TUN), served by two packet threads: one
// thread for both at a trickle, one each under load (worker.cpp).
class Lanes {
  public:
    // Under load one per lane, so that both directions run at once.
    static constexpr unsigned kThreads = 2;

    static Result<std::unique_ptr<Lanes>> create(const WorkerContext& ctx);
    virtual ~Lanes() = default;
    // Packet thread `thread`'s loop (0 to kThreads - 1, one each); returns once ctx.stop_fd is
    // readable.
    virtual void serve(unsigned thread) = 0;
    // The thread each lane lives in now: {outbound, inbound}.
    virtual std::array<unsigned, 2> homes() = 0;
};

}  // namespace ipsecfs::netpath
