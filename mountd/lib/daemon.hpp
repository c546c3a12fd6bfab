#pragma once
// ipsec-mountd put together: the SADB, the packet engine, the filesystem and the control socket.

#include <memory>

#include "core/dataplane_status.hpp"
#include "core/result.hpp"
#include "core/sadb.hpp"
#include "fs/ipsec_fs.hpp"
#include "mountd/lib/control_server.hpp"
#include "mountd/lib/control_service.hpp"
#include "mountd/lib/daemon_options.hpp"
#include "mountd/lib/expire_hook.hpp"
#include "mountd/lib/lifetime_watcher.hpp"
#include "mountd/lib/monitor_hub.hpp"
#include "mountd/lib/shutdown_signals.hpp"
#include "mountd/lib/state_keeper.hpp"
#include "netpath/engine.hpp"

namespace ipsecfs::mountd {

class Daemon {
  public:
    // Claims the control socket, recovers a stale mount, starts the engine (unless --tun none),
    // mounts and starts serving the control socket. Call before any other thread exists: it
    // blocks SIGTERM and SIGINT for every thread it starts.
    static Result<std::unique_ptr<Daemon>> start(const DaemonOptions& options);
    // Unmounts, stops the engine and removes the control socket.
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Serves until SIGTERM or SIGINT (or an unmount from outside); returns the exit status.
    int run();

  private:
    explicit Daemon(DaemonOptions options) : options_(std::move(options)) {}
    Result<void> start_engine();
    Result<void> mount(const fs::MountOptions& mount_options);
    void start_lifetime_watcher();

    DaemonOptions options_;
    DataplaneStatus status_;
    std::unique_ptr<Sadb> sadb_;
    std::unique_ptr<StateKeeper> state_;  // saves sadb_ on every commit
    std::unique_ptr<netpath::Engine> engine_;
    std::unique_ptr<fs::IpsecFs> fs_;
    std::unique_ptr<ControlService> service_;
    std::unique_ptr<ControlServer> server_;
    MonitorHub monitors_;
    std::unique_ptr<ExpireHook> expire_hook_;
    std::unique_ptr<LifetimeWatcher> watcher_;  // publishes to monitors_ and expire_hook_
    std::unique_ptr<ShutdownSignals> signals_;  // calls fs_->exit()
};

}  // namespace ipsecfs::mountd
