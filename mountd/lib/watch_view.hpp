#pragma once
// `ipsec spi --watch [--interval S] [--mount DIR]`: ipsec_spi shown again whenever it changes.
// It waits in poll() on the open file, which wakes it as soon as an SA is added, replaced or
// deleted, and re-reads at least every interval for the counters. On a terminal the frame is
// redrawn in place until q or Ctrl-C; piped, each changed text follows the last.

#include <span>
#include <string>

namespace ipsecfs::mountd {

// args[0] is "spi". Returns the exit status.
int run_spi_watch(std::span<const std::string> args);

}  // namespace ipsecfs::mountd
