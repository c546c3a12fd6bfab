#pragma once
// The SA database: SAs by SAID, SA groups (spigrp), eroutes (the outbound policy table) and
// inbound tunnel policies. Writers (the control socket) change it in transactions; readers (the
// filesystem, the packet workers) take immutable snapshots, so a reader never sees a half-applied
// change and never blocks a writer for longer than a pointer copy.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/command.hpp"
#include "core/result.hpp"
#include "core/sa.hpp"
#include "core/saved_sadb.hpp"

namespace ipsecfs {

// An outbound policy: packets from src to dst go through the SA group headed by `said`.
struct Eroute {
    Prefix src;
    Prefix dst;
    Said said;
    std::shared_ptr<Counter> packets;  // the leading count column of ipsec_eroute; shared across
                                       // snapshots; written by the outbound lane only
};

// spigrp: up to four SAs, inner to outer (e.g. tun, comp, esp, ah).
struct SaGroup {
    static constexpr std::size_t kMaxSize = 4;
    std::vector<Said> saids;
    // Resolved members, same order; empty when a member is missing (the group is down and its
    // packets are dropped as group_incomplete until the SA is added again).
    std::vector<SaPtr> members;
    bool complete() const { return !members.empty(); }
};
using SaGroupPtr = std::shared_ptr<const SaGroup>;

class SadbSnapshot {
  public:
    uint64_t generation() const { return generation_; }
    // Unique among the snapshots of every Sadb in the process: a reader that remembers what it
    // looked up in one can tell it from any later one, even one made at the same address.
    uint64_t serial() const { return serial_; }
    std::size_t size() const { return by_said_.size(); }

    // All SAs in SAID order.
    const std::map<Said, SaPtr>& sas() const { return ordered_; }
    // O(1) lookup; the packet path's inbound (dst, spi, proto) lookup is this.
    const Sa* find(const Said& said) const;
    SaPtr find_shared(const Said& said) const;

    // The group containing this SA (null when ungrouped).
    const SaGroup* group_of(const Said& said) const;
    const std::vector<SaGroupPtr>& groups() const { return groups_; }

    // Longest-prefix match on (dst, src); null when no eroute matches.
    const Eroute* route(const IpAddress& src, const IpAddress& dst) const;
    const std::vector<Eroute>& eroutes() const { return eroutes_; }
    // Number of eroutes that name this SA (the `alloc` lifetime's current value).
    uint64_t allocations(const Said& said) const;

    const InboundPolicy* policy_of(const Said& said) const;

  private:
    friend class Sadb;
    void reindex();

    uint64_t generation_ = 0;
    uint64_t serial_ = 0;
    bool derived_dirty_ = false;
    std::map<Said, SaPtr> ordered_;
    std::unordered_map<Said, SaPtr> by_said_;
    std::vector<std::vector<Said>> group_saids_;
    std::vector<SaGroupPtr> groups_;
    std::unordered_map<Said, SaGroupPtr> group_by_said_;
    std::vector<Eroute> eroutes_;
    // Route index: one hash table per (dst bits, src bits), most specific first.
    struct RouteKey {
        IpAddress src, dst;
        bool operator==(const RouteKey&) const = default;
    };
    struct RouteKeyHash {
        std::size_t operator()(const RouteKey& k) const noexcept;
    };
    struct MaskTable {
        uint8_t dst_bits, src_bits;
        std::unordered_map<RouteKey, std::size_t, RouteKeyHash> index;
    };
    std::vector<MaskTable> route_tables_;
    std::unordered_map<Said, uint64_t> allocations_;
    std::unordered_map<Said, InboundPolicy> policies_;
};

using SadbSnapshotPtr = std::shared_ptr<const SadbSnapshot>;

class Sadb {
  public:
    struct Environment {
        // Is this address one of the host's own? Decides an SA's direction.
        std::function<bool(const IpAddress&)> is_local = [](const IpAddress&) { return false; };
        // Clock in nanoseconds (the daemon: CLOCK_REALTIME; tests: a fake).
        std::function<int64_t()> now_ns = [] { return int64_t{0}; };
        // Builds the packet engine's per-SA state; an error refuses the SA. Optional.
        std::function<Result<std::unique_ptr<SaRuntime>>(const Sa&)> make_runtime;
        // Called after every commit, outside the SADB lock (e.g. to recompute the TUN MTU or to
        // invalidate FUSE entries of deleted SAs).
        std::function<void(const SadbSnapshot& before, const SadbSnapshot& after)> on_commit;
        // Replay window of inbound AH/ESP SAs added without --replay_window.
        uint32_t default_replay_window = kDefaultReplayWindow;
    };

    explicit Sadb(Environment env);

    SadbSnapshotPtr snapshot() const;
    // Cheap check for readers that cache a snapshot: changes on every commit.
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

    // A set of changes applied all at once or not at all. Only one transaction runs at a time.
    class Transaction {
      public:
        // Applies one mutating command to the pending state; on error the pending state is
        // unchanged by this command. Show/look/version commands are refused.
        Result<void> apply(const Command& command);
        // Publishes the pending state. A transaction that is destroyed uncommitted changes nothing.
        void commit();

        // Hard lifetime expiry: removes the SA (only if `sa_id` is still the SA under that SAID,
        // not a replacement added since) and every other member of its group, and dissolves the
        // group, so no packet can leave with part of the group's protection. Eroutes stay; their
        // packets are dropped as no_sa until new SAs are added. Returns the removed SAs, the
        // expired one first; empty when it was already gone.
        std::vector<SaPtr> take_down(const Said& said, uint64_t sa_id);

        // Brings back what the state file held into an empty SADB: each SA with the time it was
        // added, its counters and restart_config()'s sequence state, then the groups, eroutes with
        // their packet counts and inbound policies, as they were (a group or eroute may name an
        // SA that is gone). Errors name the SA or entry; the pending state is then unusable.
        Result<void> restore(const SavedSadb& saved);

      private:
        friend class Sadb;
        Transaction(Sadb& db, std::unique_lock<std::mutex> lock);
        Result<void> add_sa(const SpiAdd& c);
        Result<void> del_sa(const SpiDel& c);
        Result<void> add_eroute(const ErouteAdd& c);
        Result<void> del_eroute(const ErouteDel& c);
        Result<void> group(const Spigrp& c);

        Sadb& db_;
        std::unique_lock<std::mutex> lock_;
        std::shared_ptr<SadbSnapshot> pending_;
        bool committed_ = false;
    };

    Transaction begin();
    // One command in its own transaction.
    Result<void> apply(const Command& command);

  private:
    Environment env_;
    mutable std::mutex write_mutex_;     // serialises transactions
    mutable std::mutex snapshot_mutex_;  // guards current_ (held only for a pointer copy)
    SadbSnapshotPtr current_;
    std::atomic<uint64_t> generation_{0};
    uint64_t next_sa_id_ = 1;
};

}  // namespace ipsecfs
