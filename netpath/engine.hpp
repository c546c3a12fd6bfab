#pragma once
// The packet engine: owns the TUN device and the outer sockets and runs the workers that move
// packets between them through the SA groups of the SADB. See engine.cpp for the pipeline.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/dataplane_status.hpp"
#include "core/result.hpp"
#include "core/sadb.hpp"

namespace ipsecfs::netpath {

class TunDevice;
class OuterTransport;

struct EngineOptions {
    std::string tun_name = "ipsec0";
    std::string outer_dev;  // bind outer sockets to this device (empty: routing decides)
    unsigned workers = 1;
    int worker_nice = 0;  // setpriority() of the worker threads (below 0 needs CAP_SYS_NICE)
    // SCHED_BATCH instead of SCHED_OTHER: a woken worker does not preempt the task running on
    // its CPU (the one that just queued it a packet), so it finds a batch when it runs.
    bool worker_batch = false;
    uint16_t natt_port = 4500;  // local UDP port for RFC 3948 encapsulation
};

class Engine {
  public:
    // Creates the TUN device and sockets and starts the workers. Needs CAP_NET_ADMIN/RAW.
    static Result<std::unique_ptr<Engine>> start(const EngineOptions& options, const Sadb& sadb,
                                                 DataplaneStatus& status,
                                                 std::function<int64_t()> now_ns);
    // The same with given devices: tests run two engines back to back over in-memory ones.
    static Result<std::unique_ptr<Engine>> start_with(const EngineOptions& options,
                                                      const Sadb& sadb, DataplaneStatus& status,
                                                      std::function<int64_t()> now_ns,
                                                      std::unique_ptr<TunDevice> tun,
                                                      std::unique_ptr<OuterTransport> transport);
    // Builds the per-SA state (keyed cipher, replay window, sequence counter); plug into
    // Sadb::Environment::make_runtime. Refuses SAs the engine cannot carry.
    static Result<std::unique_ptr<SaRuntime>> make_runtime(const Sa& sa);
    // The same for a daemon with a state file: outbound AH/ESP SAs send only the sequence numbers
    // their reservation allows (SaState::reservation(), raised by the state writer).
    static Result<std::unique_ptr<SaRuntime>> make_reserved_runtime(const Sa& sa);

    virtual ~Engine() = default;
    // Called after each SADB commit (recomputes the TUN MTU from the SA overheads).
    virtual void on_commit(const SadbSnapshot& after) = 0;
    // Stops the workers; the device and sockets close with the object.
    virtual void stop() = 0;
    // What did not go as asked at start but did not stop it (empty: nothing).
    virtual std::string start_warning() const = 0;
};

// Is `a` assigned to an interface of this network namespace?
bool is_local_address(const IpAddress& a);

}  // namespace ipsecfs::netpath
