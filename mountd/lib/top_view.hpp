#pragma once
// `ipsec top [--interval S] [--sort bytes|packets|errors] [-n N] [-b] [--mount DIR]`: one line
// per SA with its byte, packet and error rates over the last interval, busiest first, under a
// header with the totals per direction. Each frame reads ipsec_spi once (one file however many
// SAs) and compares it with the read before. On a terminal the frame is redrawn in place until
// q or Ctrl-C (b, p, e change the sort); with -b or when piped, each frame follows the last as
// plain text, and the first comes after one interval.

#include <span>
#include <string>

namespace ipsecfs::mountd {

// args[0] is "top". Returns the exit status.
int run_top(std::span<const std::string> args);

}  // namespace ipsecfs::mountd
