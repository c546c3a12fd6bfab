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
    bool foreground = false;
    unsigned workers = 1;
    uint32_t replay_window = kDefaultReplayWindow;

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
