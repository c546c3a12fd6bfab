#pragma once
// The two worker loops. Each moves batches: read many, transform many, write many.

#include <cstdint>
#include <functional>

#include "core/dataplane_status.hpp"
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
    int stop_fd;  // readable once the worker must return
};

// TUN → eroute → SA group → transforms → outer sockets.
void run_outbound(const WorkerContext& ctx);
// Outer sockets → SA → transforms unwound → TUN.
void run_inbound(const WorkerContext& ctx);

}  // namespace ipsecfs::netpath
