#pragma once
// `ipsec --batch FILE`: command lines in the `ipsec spi …` syntax, one per line, optionally
// starting with `ipsec`; blank lines and `#` comments are skipped. The CLI checks every line
// before sending; the daemon checks them again while applying them in one transaction.

#include <istream>
#include <vector>

#include "core/command.hpp"
#include "core/result.hpp"
#include "mountd/lib/control_protocol.hpp"

namespace ipsecfs::mountd {

// Splits a batch into its command lines, numbered as in the file (from 1).
// Errors read "line N: <why>".
Result<std::vector<CommandLine>> read_batch(std::istream& in);

// Parses one batch line; only changes (add, delete, clear, group) belong in a batch.
// Errors read "line N: <why>".
Result<Command> parse_batch_line(const CommandLine& line);

}  // namespace ipsecfs::mountd
