#pragma once
// The FreeS/WAN command grammar (`ipsec spi`, `ipsec eroute`, `ipsec spigrp`, `ipsec look`,
// `ipsec version`), parsed with Boost.Program_options. Shared by the CLI (to fail fast) and
// the daemon (which never trusts the client and parses again).

#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "core/sa.hpp"

namespace ipsecfs {

struct InboundPolicy {
    Prefix src;  // inner source must be inside
    Prefix dst;  // inner destination must be inside
    bool operator==(const InboundPolicy&) const = default;
};

// ipsec spi with no arguments: print ipsec_spi.
struct SpiShow {};
// --ah/--esp/--comp/--ip4/--ip6: add an SA (dir is decided by the SADB).
struct SpiAdd {
    SaConfig config;
    std::optional<InboundPolicy> policy;  // --policy SRC->DST (tun SAs)
    bool replace = false;                 // --replace: overwrite an existing SA
};
struct SpiDel {
    Said said;
};
struct SpiClear {};

struct ErouteShow {};
struct ErouteAdd {
    Prefix src;
    Prefix dst;
    Said said;
    bool replace = false;  // --replace / --replacein
    bool inbound = false;  // --addin / --replacein: set the inbound policy of the tunnel SA
};
struct ErouteDel {
    Prefix src;
    Prefix dst;
};
struct ErouteClear {};

struct SpigrpShow {};
struct Spigrp {
    std::vector<Said> saids;  // inner to outer; one SAID = ungroup
};

struct Look {};
struct Version {};
struct Monitor {};  // stream lifetime events (the CLI opens its own connection for it)

using Command = std::variant<SpiShow, SpiAdd, SpiDel, SpiClear, ErouteShow, ErouteAdd, ErouteDel,
                             ErouteClear, SpigrpShow, Spigrp, Look, Version, Monitor>;

// args[0] is the command name (spi, eroute, spigrp, look, version); the rest are its options.
// Errors are one line, naming the offending option or value.
Result<Command> parse_command(std::span<const std::string> args);

// Splits one line of a batch file into words: whitespace separates, '#' starts a comment,
// single and double quotes group. A leading "ipsec" word is skipped. Empty result = blank line.
Result<std::vector<std::string>> split_command_line(std::string_view line);

// Does the command change the SADB (as opposed to showing something)?
bool is_mutation(const Command& c);

// Usage text for `ipsec <name> --help`.
std::string command_usage(std::string_view name);

}  // namespace ipsecfs
