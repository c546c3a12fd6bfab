#pragma once
// The SADB as the state file keeps it: every SA with its configuration, the time it was added,
// its counters and sequence state; the groups, the eroutes with their packet counts and the
// inbound policies. Plain values, taken from a snapshot (save_sadb) and given back to a SADB by
// Sadb::Transaction::restore; state_codec.hpp turns them into bytes and back.

#include <array>
#include <cstdint>
#include <vector>

#include "core/command.hpp"
#include "core/drop_reason.hpp"
#include "core/sa.hpp"

namespace ipsecfs {

class SadbSnapshot;

// SaCounters as plain numbers.
struct SavedCounters {
    uint64_t bytes = 0;
    uint64_t packets = 0;
    int64_t first_use_ns = 0;
    int64_t last_use_ns = 0;
    uint64_t ooo_errs = 0;
    uint64_t auth_errs = 0;
    uint64_t encr_size_errs = 0;
    uint64_t encr_pad_errs = 0;
    uint64_t comp_uncompressed = 0;
    uint64_t comp_compressed = 0;
    std::array<uint64_t, kDropReasonCount> drops{};
    uint64_t seq = 0;  // highest received (in) / last sent (out)
    uint64_t bitmap = 0;
    uint64_t max_seq_diff = 0;
    LifeState life_state = LifeState::mature;
    uint8_t soft_cause = 0;
    uint8_t hard_cause = 0;
    uint64_t soft_value = 0;
    uint64_t hard_value = 0;
    bool soft_reported = false;
    bool hard_reported = false;

    bool operator==(const SavedCounters&) const = default;
};

struct SavedSa {
    SaConfig config;  // as added, direction decided
    int64_t added_ns = 0;
    SavedCounters counters;
    // Outbound: the highest sequence number the daemon may have sent (its durable reservation,
    // outbound_sequence.hpp); 0 when it kept none.
    uint64_t seq_reserved = 0;
};

struct SavedEroute {
    Prefix src;
    Prefix dst;
    Said said;
    uint64_t packets = 0;
    bool operator==(const SavedEroute&) const = default;
};

struct SavedPolicy {
    Said said;  // the inbound tun SA
    InboundPolicy policy;
    bool operator==(const SavedPolicy&) const = default;
};

struct SavedSadb {
    int64_t saved_at_ns = 0;
    bool clean_shutdown = false;  // written by a daemon that stopped its packet engine first
    std::vector<SavedSa> sas;     // SAID order
    std::vector<std::vector<Said>> groups;  // inner to outer; a member may be missing (group down)
    std::vector<SavedEroute> eroutes;       // table order
    std::vector<SavedPolicy> policies;      // SAID order
};

SavedCounters save_counters(const SaCounters& counters);
void load_counters(const SavedCounters& saved, SaCounters& counters);

// Everything but seq_reserved, which only the state writer knows.
SavedSadb save_sadb(const SadbSnapshot& snap, int64_t now_ns);

// The configuration an SA is brought back with: an outbound SA continues above every number it
// may have sent (its reservation), an inbound one from the highest number it had received.
SaConfig restart_config(const SavedSa& saved);

}  // namespace ipsecfs
