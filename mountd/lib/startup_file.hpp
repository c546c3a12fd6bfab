#pragma once
// ipsec-mountd --startup FILE: the SAs, groups and eroutes the daemon sets up before it reports
// ready. FILE holds `ipsec spi|eroute|spigrp` lines in the `ipsec --batch` syntax (batch.hpp),
// applied in one SADB transaction after the state file is loaded: all of them, or on any error
// none, and then the daemon does not start.

#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sadb.hpp"
#include "mountd/lib/control_protocol.hpp"
#include "mountd/lib/control_service.hpp"

namespace ipsecfs::mountd {

struct StartupFile {
    std::string path;  // for messages; empty when there is nothing to apply
    std::vector<CommandLine> lines;
};

// `spec` is empty (no file), a path, or "-" and a path for a file that may be missing (as in
// systemd's EnvironmentFile=-…): then there is nothing to apply. Every line is checked here.
// Errors read "startup file PATH: line N: why".
Result<StartupFile> read_startup_file(const std::string& spec);

// Applies the lines in one transaction, exactly as `ipsec --batch` would, on top of what the
// state file brought back. Except: a line that adds an SA, an eroute or an inbound policy that
// is there already before the transaction (restored from the state file) is skipped, so that
// the restored one keeps its counters and its sequence numbers (a restart must never reuse a
// sequence number, and so a nonce, under one key); --replace and --replacein lines apply.
// Returns one note per skipped line, "startup file PATH: line N: ... kept as restored".
Result<std::vector<std::string>> apply_startup_file(const StartupFile& file, const Sadb& sadb,
                                                    const ControlService& service);

}  // namespace ipsecfs::mountd
