#pragma once
// Values derived from an SA's counters and the clock that more than one renderer shows (the
// ipsec_spi line and its files, the metrics file), computed in one place.

#include <cstdint>

#include "core/sa.hpp"

namespace ipsecfs {

// Whole seconds from then to now; 0 when then is not before now.
uint64_t seconds_since(int64_t then_ns, int64_t now_ns);

// Seconds since the SA's last packet; `used` says whether it ever carried one (0 when not).
uint64_t idle_seconds(const Sa& sa, int64_t now_ns, bool& used);

// AH and ESP SAs have the replay group (ooowin, ooo_errs, seq, bit, max_seq_diff).
bool has_replay_group(const Sa& sa);

}  // namespace ipsecfs
