#pragma once
// ipsec-mountd's options, from the command line and optionally a config file (Boost
// program_options syntax, `name = value` per line); the command line wins.

#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "core/sa.hpp"

namespace ipsecfs::mountd {

struct DaemonOptions {
    std::string mount = "/run/ipsec";
    std::string control = "/run/ipsec-mountd.sock";
    std::string tun = "ipsec0";  // "none": no packet engine, only the SADB and its files
    std::string outer_dev;       // bind the outer sockets to this device
    std::string state = "/var/lib/ipsecfs/state";
    std::string read_group;  // group allowed to read the mount besides root
    std::string startup;     // `ipsec --batch` lines applied at start; "-FILE": if it exists
    bool foreground = false;
    bool discard_state = false;  // a damaged state file is moved aside instead of refusing to start
    unsigned workers = 1;
    // CPU priority (nice) of the packet workers and of the filesystem threads: on a busy machine
    // packets go first and readers of the mount wait.
    int worker_nice = -10;
    int fs_nice = 19;
    // While packets flow, the mount answers at most this many requests a second; 0: no limit.
    uint32_t fs_busy_rate = 2000;
    // Scheduling policy of the packet workers: "batch" (SCHED_BATCH) or "other" (SCHED_OTHER).
    std::string worker_policy = "batch";
    uint32_t replay_window = kDefaultReplayWindow;
    std::string on_expire;  // shell command per lifetime event; empty: none
    unsigned on_expire_timeout = 60;
    uint64_t seq_headroom = uint64_t{1} << 24;

    bool packet_engine() const { return tun != "none"; }
};

struct DaemonCommandLine {
    enum class Action { run, help, version };
    Action action = Action::run;
    DaemonOptions options;
    std::string help;  // the usage text, for Action::help
};

// Errors are one line (an unknown option, a bad value, an unreadable config file).
Result<DaemonCommandLine> parse_daemon_options(int argc, const char* const* argv);

}  // namespace ipsecfs::mountd
