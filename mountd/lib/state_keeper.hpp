#pragma once
// Keeps the SADB in the state file (ipsec-mountd --state): brings it back at start, writes it
// after every commit, and on a thread of its own (never the packet path's) extends outbound SAs'
// sequence number reservations (core/outbound_sequence.hpp) before they run out and writes the
// counters every few seconds while they move. At a clean stop it writes the final counters with
// each reservation cut back to the last number sent, so a clean restart skips no numbers.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/outbound_sequence.hpp"
#include "core/sadb.hpp"
#include "mountd/lib/state_store.hpp"

namespace ipsecfs::mountd {

class StateKeeper {
  public:
    struct Options {
        std::string path;
        bool discard = false;                      // --discard-state
        std::chrono::milliseconds scan{20};        // how often reservations are looked at
        std::chrono::milliseconds periodic{2000};  // counters written at most this long after
    };
    struct Environment {
        std::function<int64_t()> now_ns;  // CLOCK_REALTIME: add and use times survive restarts
        // The reservation an SA's packet engine state keeps (null: none, e.g. no engine).
        std::function<SequenceReservation*(const Sa&)> reservation_of;
        // A total that grows by at least one for every packet an SA counts or drops (the daemon's
        // packet and drop totals). By default every look counts as a change.
        std::function<uint64_t()> activity = [n = uint64_t{0}]() mutable { return ++n; };
        std::function<void(const std::string&)> log = [](const std::string&) {};
    };

    // Locks the file and brings its SADB back into `sadb` (which must be empty), then writes it
    // once, so that every restored outbound SA holds a reservation before packets flow. A missing
    // file is an empty start. A damaged one refuses, unless options.discard: then it is moved
    // aside as PATH.bad-EPOCH (and logged) and the start is empty.
    static Result<std::unique_ptr<StateKeeper>> open(const Options& options, Sadb& sadb,
                                                     Environment env);
    ~StateKeeper();  // stops the thread; no final write
    StateKeeper(const StateKeeper&) = delete;
    StateKeeper& operator=(const StateKeeper&) = delete;

    // Writes the SADB now, raising the reservations that are due (a new SA's first one).
    Result<void> save();
    // save(), a failure logged: for Sadb::Environment::on_commit.
    void on_commit();
    void start();
    // One look of the thread: a reservation half used, or counters moved and the last write is
    // older than options.periodic → save().
    void pass();
    // Stops the thread and writes the final state. Only once the packet engine has stopped.
    Result<void> stop();

  private:
    // What the keeper knows of an SA's last extension: its size, and when and at which number it
    // was made (the SA's rate since then sizes the next one).
    struct Grant {
        uint64_t block = SequenceReservation::kMinBlock;
        uint64_t seq = 0;
        int64_t at_ns = 0;
    };

    StateKeeper(const Options& options, Sadb& sadb, Environment env, StateStore store)
        : options_(options), sadb_(sadb), env_(std::move(env)), store_(std::move(store)) {}
    Result<void> write(bool final);  // mutex_ held
    bool extension_due();            // mutex_ held
    void report(const Result<void>& r);
    void loop();

    Options options_;
    Sadb& sadb_;
    Environment env_;
    StateStore store_;

    std::mutex mutex_;                            // one write at a time; guards what follows
    std::unordered_map<uint64_t, Grant> grants_;  // by Sa::id()
    uint64_t written_activity_ = 0;
    std::chrono::steady_clock::time_point written_at_{};
    std::string last_error_;
    // The SAs that hold a reservation, rebuilt when the SADB generation changes. No SA can be due
    // before `activity` moved by `slack_` from `scanned_activity_` (each packet uses at most one
    // number of each SA), so most looks need not visit every SA.
    uint64_t watched_generation_ = UINT64_MAX;
    std::vector<std::pair<SaPtr, SequenceReservation*>> watched_;
    uint64_t scanned_activity_ = 0;
    uint64_t slack_ = 0;

    std::mutex thread_mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ipsecfs::mountd
