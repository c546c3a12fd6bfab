#pragma once
// SA lifetimes, ipsec_spi(5) life(c,s,h): five counted quantities, each with a soft limit that
// asks for a rekey and a hard limit that ends the SA (0 = no limit), plus the outbound sequence
// number space, which RFC 4303 §3.3.3 / RFC 4302 §3.3.2 forbid to cycle: its end behaves as a
// hard limit, with a soft warning a configurable headroom before it.
//
// Boundaries: "the packet that reaches the limit" passes, "the one after" does not. A packet is
// admitted when, counted, it would leave packets <= hard and bytes <= hard; the SA expires as
// soon as a count equals its hard limit (nothing more could pass) or a packet did not fit. Time
// limits are reached when the whole number of seconds since add (first use) is >= the limit.
// An allocation is an eroute naming the SA: the eroute that would exceed the hard limit is
// refused by the SADB, reaching the soft limit makes the SA dying.
//
// Who calls what: the SA's owning worker calls admit() before a packet uses the SA and settle()
// after it was counted; the lifetime watcher calls check() periodically (time, allocations,
// sequence space) and collects the crossings as events. State moves only forward by
// compare-exchange on SaCounters, so a crossing is made once, whoever sees it first.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sa.hpp"
#include "core/said.hpp"

namespace ipsecfs {

class SadbSnapshot;

// Which limit was reached: the five --life kinds in FreeS/WAN's spelling, the sequence number
// space, and `group` for an SA taken down because another member of its group expired.
enum class ExpiryCause : uint8_t { allocations, bytes, addtime, usetime, packets, sequence, group };
std::string_view expiry_cause_name(ExpiryCause c);
std::string_view life_state_name(LifeState s);

// The current value of one life(c,s,h) item: allocations, bytes, seconds since add, seconds
// since first use (0 before), packets.
uint64_t life_current(const Sa& sa, const SadbSnapshot& snap, LifeKind kind, int64_t now_ns);

// The last sequence number an outbound AH/ESP SA may use (2^32-1, or 2^64-1 with ESN).
uint64_t sequence_limit(const Sa& sa);

// Packet path, before the packet uses the SA (clear_len may be 0 when the length is not known
// yet). False: drop it as life_expired; the SA is then expired.
bool life_admit(const Sa& sa, uint64_t clear_len, int64_t now_ns);
// Packet path, after the packet was counted on the SA: soft crossings, hard limits reached.
void life_settle(const Sa& sa, int64_t now_ns);

// Marks a crossing with the limited quantity's value at that moment; true when this call made
// it (the state moved).
bool mark_soft(const Sa& sa, ExpiryCause cause, uint64_t value);
bool mark_hard(const Sa& sa, ExpiryCause cause, uint64_t value);

struct LifeEvent {
    enum class Level : uint8_t { soft, hard };
    Level level = Level::soft;
    Said said;
    uint64_t sa_id = 0;
    Direction dir = Direction::out;
    ExpiryCause cause = ExpiryCause::bytes;
    uint64_t current = 0;  // the limited quantity's value when the limit was crossed
    uint64_t soft = 0;     // that quantity's limits
    uint64_t hard = 0;
    int64_t at_ns = 0;
    std::optional<Said> expired_member;  // cause group: the member whose hard limit was reached
    bool operator==(const LifeEvent&) const = default;
};

// Should the watcher look at this SA at all (limits set, or a sequence space one can exhaust)?
bool life_watched(const Sa& sa);

// The watcher's pass over one SA: checks time, allocation and sequence limits, and returns the
// events not reported yet (soft before hard), marking them reported.
std::vector<LifeEvent> life_check(const Sa& sa, const SadbSnapshot& snap, int64_t now_ns,
                                  uint64_t seq_soft_headroom);

// One `ipsec monitor` line (no newline): "soft esp0x1234@192.0.2.1 dir=out limit=packets
// current=100 soft=100 hard=200 time=1764250000".
std::string format_life_event(const LifeEvent& e);
// The same facts as NAME=value pairs for an --on-expire hook's environment.
std::vector<std::string> life_event_environment(const LifeEvent& e);

// Seconds left before the earliest time limit (addtime/usetime) of the soft or hard level, or
// nullopt when that level has no time limit. A usetime limit of an unused SA has not started:
// its full length is left.
std::optional<uint64_t> time_left(const Sa& sa, bool hard, int64_t now_ns);

}  // namespace ipsecfs
