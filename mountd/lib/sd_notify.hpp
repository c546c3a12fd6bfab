#pragma once
// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram of
// newline-separated VARIABLE=VALUE lines ("READY=1", "STOPPING=1", "STATUS=…") sent to the
// AF_UNIX datagram socket that $NOTIFY_SOCKET names, a path or, starting with '@', an abstract
// socket name. Without $NOTIFY_SOCKET nothing is sent.

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ipsecfs::mountd {

class SystemdNotifier {
  public:
    // Takes $NOTIFY_SOCKET and removes it from the environment, so that the commands the daemon
    // runs later do not inherit it. Call before any thread exists.
    static SystemdNotifier from_environment();
    // An empty name: not started by systemd, every notify() succeeds doing nothing.
    explicit SystemdNotifier(std::string socket_name) : socket_name_(std::move(socket_name)) {}

    // Did systemd ask to be told (Type=notify)?
    bool active() const { return !socket_name_.empty(); }
    // Sends one message, e.g. "READY=1\nSTATUS=serving /run/ipsec". Errors are one line.
    Result<void> notify(std::string_view state) const;

  private:
    std::string socket_name_;
};

}  // namespace ipsecfs::mountd
