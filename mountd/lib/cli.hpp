#pragma once
// The ipsec command:
//   ipsec [--control SOCK] spi|eroute|spigrp|look|version [options]
//   ipsec [--control SOCK] --batch FILE|-
// Each command is parsed here first (a mistake fails fast, nothing sent), then sent to
// ipsec-mountd, which parses it again and answers with output or one error line.

#include <span>
#include <string>

namespace ipsecfs::mountd {

// `args` excludes the program name. Returns the exit status: 0, or 1 after one line on stderr.
int run_cli(std::span<const std::string> args);

}  // namespace ipsecfs::mountd
