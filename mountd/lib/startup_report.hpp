#pragma once
// How a starting ipsec-mountd tells whoever started it that it is ready, or why it is not.
// In the foreground that is our own stderr. Detached, the process forks: the parent waits on a
// pipe and exits 0 once the child reports ready (mount up, control socket listening), or prints
// the child's error and exits 1; the child carries on as the daemon.

#include <string>

#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

class StartupReport {
  public:
    static StartupReport foreground() { return StartupReport(fs::UniqueFd()); }
    // Forks before any thread exists; returns in the child only.
    static StartupReport detach();

    // Detached: lets the parent exit 0, leaves the working directory and the terminal's stdio.
    void ready();
    // Prints "ipsec-mountd: <message>" here or, detached, in the waiting parent.
    void failed(const std::string& message);

  private:
    explicit StartupReport(fs::UniqueFd to_parent) : to_parent_(std::move(to_parent)) {}
    fs::UniqueFd to_parent_;
};

}  // namespace ipsecfs::mountd
