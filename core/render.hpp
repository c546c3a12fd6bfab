#pragma once
// Text renderers for every file of the mount: ipsec_spi (the seed page's line format, byte for
// byte), ipsec_eroute, ipsec_spigrp, ipsec_tncfg, ipsec_version, stats, and the per-SA field
// files. Pure functions of a snapshot and "now"; no I/O.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/dataplane_status.hpp"
#include "core/sadb.hpp"

namespace ipsecfs {

// One line per SA, in SAID order, each ending in '\n'.
std::string render_spi(const SadbSnapshot& snap, int64_t now_ns);
void append_spi_line(std::string& out, const Sa& sa, const SadbSnapshot& snap, int64_t now_ns);
// `<count> <src/bits> -> <dst/bits> => <SAID>` per eroute (KLIPS column widths).
std::string render_eroute(const SadbSnapshot& snap);
// One line per group, inner to outer, each SAID followed by one space.
std::string render_spigrp(const SadbSnapshot& snap);
// `ipsec0 -> <outer dev|NULL> mtu=<tun>(<path>) -> <outer>`; empty without a packet engine.
std::string render_tncfg(const DataplaneStatus& status);
std::string render_version();
// name=value lines: daemon-wide packet counts and every drop reason.
std::string render_stats(const DataplaneStatus& status);
// `ipsec look`: eroutes, groups, tncfg, then the sorted SAs.
std::string render_look(const SadbSnapshot& snap, const DataplaneStatus& status, int64_t now_ns);

// The files of an SA's directory. A file holds what ipsec_spi prints after `name=` (plus '\n');
// a field the line leaves out reads 0 (numbers) or an empty line (policy, iv). life/X holds the
// three numbers c,s,h. Names with a '/' live in the life/ subdirectory.
enum class SaField : uint8_t {
    said,
    xform,
    dir,
    src,
    policy,
    iv_bits,
    iv,
    ooowin,
    ooo_errs,
    seq,
    bit,
    max_seq_diff,
    flags,
    alen,
    aklen,
    auth_errs,
    eklen,
    encr_size_errs,
    encr_pad_errs,
    idle,
    ratio,
    natencap,
    natsport,
    natdport,
    drops,
    life_alloc,
    life_bytes,
    life_add,
    life_use,
    life_packets,
    state,           // mature, dying or expired (core/lifetime.hpp)
    add_time,        // seconds since the epoch when the SA was added
    use_time,        // seconds since the epoch of the first use, 0 before
    soft_time_left,  // seconds before the earliest soft time limit; empty when none
    hard_time_left,
    count_
};
inline constexpr std::size_t kSaFieldCount = static_cast<std::size_t>(SaField::count_);
inline constexpr std::array<std::string_view, kSaFieldCount> kSaFieldNames = {
    "said",
    "xform",
    "dir",
    "src",
    "policy",
    "iv_bits",
    "iv",
    "ooowin",
    "ooo_errs",
    "seq",
    "bit",
    "max_seq_diff",
    "flags",
    "alen",
    "aklen",
    "auth_errs",
    "eklen",
    "encr_size_errs",
    "encr_pad_errs",
    "idle",
    "ratio",
    "natencap",
    "natsport",
    "natdport",
    "drops",
    "life/alloc",
    "life/bytes",
    "life/add",
    "life/use",
    "life/packets",
    "state",
    "add_time",
    "use_time",
    "soft_time_left",
    "hard_time_left",
};
constexpr std::string_view sa_field_name(SaField f) {
    return kSaFieldNames[static_cast<std::size_t>(f)];
}

std::string render_sa_field(const Sa& sa, const SadbSnapshot& snap, SaField field, int64_t now_ns);

// SA flags (KLIPS values): INFLOW marks a tunnel SA with an inbound policy.
inline constexpr uint32_t kSaFlagInflow = 0x8;
uint32_t sa_flags(const Sa& sa, const SadbSnapshot& snap);

}  // namespace ipsecfs
