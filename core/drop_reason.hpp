#pragma once
// Every reason the packet path may drop a packet. Each is counted per SA (when the SA is
// known) and in the daemon-wide totals; names are the stable strings of the `stats` file.

#include <array>
#include <cstdint>
#include <string_view>

namespace ipsecfs {

enum class DropReason : uint8_t {
    malformed,          // not a parsable IP/ESP/AH/IPCOMP packet, or truncated
    no_eroute,          // outbound packet matched no eroute
    no_sa,              // inbound SPI/protocol/destination matched no inbound SA; the eroute's SA
                        // is gone or is inbound
    group_incomplete,   // SA group broken (member deleted) or packet less protected than required
    replay,             // sequence number already received (counted in ooo_errs)
    out_of_window,      // sequence number left of the replay window (counted in ooo_errs)
    auth_failed,        // ICV mismatch (auth_errs)
    bad_size,           // ciphertext not a block multiple or too short (encr_size_errs)
    bad_padding,        // ESP padding bytes or pad length wrong (encr_pad_errs)
    policy_mismatch,    // inner addresses outside the tunnel SA's policy
    tunnel_mismatch,    // IPIP outer addresses do not match the tun SA
    seq_exhausted,      // outbound sequence number space used up (no ESN: 2^32 - 1)
    seq_unreserved,     // next outbound sequence number not yet reserved in the state file
    life_expired,       // a hard lifetime limit was reached
    decompress_failed,  // IPCOMP payload corrupt or inflates past the limit
    too_big,            // packet would exceed the outer MTU / buffer after transforms
    unsupported,        // protocol feature we do not process (e.g. IP fragments of ESP)
    not_esp,            // UDP 4500 datagram that is IKE (non-ESP marker) or keepalive
    encap_mismatch,     // UDP-encapsulated packet for a raw SA, or raw for a NAT-T SA
    tx_error,           // the kernel refused to send the packet
    count_
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "malformed",       "no_eroute",     "no_sa",          "group_incomplete", "replay",
    "out_of_window",   "auth_failed",   "bad_size",       "bad_padding",      "policy_mismatch",
    "tunnel_mismatch", "seq_exhausted", "seq_unreserved", "life_expired",     "decompress_failed",
    "too_big",         "unsupported",   "not_esp",        "encap_mismatch",   "tx_error",
};
static_assert(!kDropReasonNames.back().empty(), "every DropReason needs a name");

constexpr std::string_view drop_reason_name(DropReason r) {
    return kDropReasonNames[static_cast<std::size_t>(r)];
}

}  // namespace ipsecfs
