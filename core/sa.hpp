#pragma once
// One Security Association: what the user configured (immutable once added), its live
// counters (written by the packet engine, read by the filesystem), and an opaque runtime
// slot where the packet engine keeps its keyed crypto, replay window and sequence counter.
//
// Threading: config is immutable. Counters are relaxed atomics: the worker that owns the SA
// writes them, anyone may read them. The runtime belongs to the owning worker alone.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/address.hpp"
#include "core/algorithm.hpp"
#include "core/drop_reason.hpp"
#include "core/key_bytes.hpp"
#include "core/said.hpp"

namespace ipsecfs {

enum class Direction : uint8_t { in, out };

// RFC 3948 UDP encapsulation as KLIPS named it: nonike (port 500 style, non-IKE marker) is
// accepted for display compatibility; nonesp is the RFC 3948 port 4500 format we carry.
enum class NatEncap : uint8_t { none, nonike, nonesp };
std::string_view natencap_name(NatEncap n);

enum class LifeKind : uint8_t { alloc, bytes, addtime, usetime, packets };
inline constexpr std::size_t kLifeKinds = 5;

// Where an SA is in its life (core/lifetime.hpp): mature until a soft limit is reached, then
// dying (a rekey is due), expired once a hard limit is reached (it carries nothing more and is
// about to be removed).
enum class LifeState : uint8_t { mature, dying, expired };

struct LifeLimit {
    uint64_t soft = 0;  // 0 = none
    uint64_t hard = 0;
    bool operator==(const LifeLimit&) const = default;
};
using LifeLimits = std::array<LifeLimit, kLifeKinds>;

inline constexpr uint32_t kDefaultReplayWindow = 32;
inline constexpr uint32_t kMaxReplayWindow = 4096;

struct SaConfig {
    Said said;
    Transform xform;
    Direction dir = Direction::out;  // decided at add: the destination is a local address → in
    IpAddress src;                   // --src (unspecified when not given)
    std::optional<IpAddress> tunnel_dst;  // tun SAs: --dst, the outer destination
    KeyBytes enc_key;
    KeyBytes auth_key;
    std::vector<uint8_t> iv;     // --iv: displayed as iv_bits/iv only; per-packet IVs are generated
    uint32_t replay_window = 0;  // AH/ESP inbound only
    bool esn = false;            // RFC 4304 extended sequence numbers
    uint64_t initial_seq = 0;    // inbound: highest already received; outbound: last sent
    NatEncap natt = NatEncap::none;
    uint16_t natt_sport = 0;
    uint16_t natt_dport = 0;
    LifeLimits life{};

    IpAddress outer_dst() const { return tunnel_dst ? *tunnel_dst : said.dst; }
};

// A monotonically increasing counter with a single writer at a time; relaxed ordering is enough
// because readers only want a recent value.
class Counter {
  public:
    void add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    // For a counter that only one packet lane ever writes (the lane's mutex orders the threads
    // it moves between): a plain load and store. A locked add also waits for every store before
    // it to reach the cache, and the packet path has just stored a packet's worth of bytes.
    void add_owned(uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }
    void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> v_{0};
};

struct SaCounters {
    Counter bytes;  // clear packet bytes protected (out) or delivered (in), segment by segment
    Counter packets;
    std::atomic<int64_t> first_use_ns{0};  // 0 = never used
    std::atomic<int64_t> last_use_ns{0};
    Counter ooo_errs;  // replays and packets left of the window
    Counter auth_errs;
    Counter encr_size_errs;
    Counter encr_pad_errs;
    Counter comp_uncompressed;  // IPCOMP ratio= numerator
    Counter comp_compressed;
    std::array<Counter, kDropReasonCount> drops;

    // Replay/sequence state, published by the owning worker after it changes.
    Counter seq;           // highest received (in) / last sent (out)
    Counter bitmap;        // newest min(window, 64) received numbers, bit 0 = seq
    Counter max_seq_diff;  // largest forward jump

    // Lifetime marks (core/lifetime.hpp). State moves only forward, by compare-exchange, so each
    // crossing is made once whoever sees it first (the packet path or the lifetime watcher).
    std::atomic<LifeState> life_state{LifeState::mature};
    std::atomic<uint8_t> soft_cause{0};  // ExpiryCause + 1 of the soft crossing, 0 = none yet
    std::atomic<uint8_t> hard_cause{0};
    std::atomic<uint64_t> soft_value{0};  // the limited quantity when it was crossed
    std::atomic<uint64_t> hard_value{0};
    std::atomic<bool> soft_reported{false};  // the event went out
    std::atomic<bool> hard_reported{false};

    void count_drop(DropReason r, uint64_t n = 1);
    void mark_used(int64_t now_ns);
};

// The packet engine's per-SA state (keyed cipher, replay window, sequence counter).
class SaRuntime {
  public:
    virtual ~SaRuntime() = default;
};

class Sa {
  public:
    Sa(uint64_t id, SaConfig config, int64_t added_ns);
    Sa(const Sa&) = delete;
    Sa& operator=(const Sa&) = delete;

    // Unique per SA instance for the daemon's lifetime (a replaced SA gets a new id).
    uint64_t id() const { return id_; }
    const SaConfig& config() const { return config_; }
    const Said& said() const { return config_.said; }
    int64_t added_ns() const { return added_ns_; }
    // Any lifetime limit configured (the packet path skips the lifetime checks otherwise).
    bool has_life_limits() const { return has_life_limits_; }
    SaCounters& counters() const { return counters_; }

    SaRuntime* runtime() const { return runtime_.get(); }
    void set_runtime(std::unique_ptr<SaRuntime> r) { runtime_ = std::move(r); }

  private:
    uint64_t id_;
    SaConfig config_;
    int64_t added_ns_;
    bool has_life_limits_;
    mutable SaCounters counters_;
    std::unique_ptr<SaRuntime> runtime_;
};

using SaPtr = std::shared_ptr<Sa>;

}  // namespace ipsecfs
