#pragma once
// How many requests the mount may answer while the gateway carries traffic: a token bucket.
//
// Readers of the mount compete with the traffic for the CPU. A FUSE reader is on the CPU for
// about twice what the filesystem spends answering it (measured: 4 `cat` loops over every file,
// about 60 us of the readers' own kernel time per file against 30 us of ours), so the
// filesystem's priority alone (--fs-nice) cannot keep a tight loop of readers from taking CPU
// time from the packets. While packets flow, the filesystem answers at most `rate` requests a
// second, in bursts of up to one second's worth; a reader that wants more waits, asleep. While
// the packet counters stand still the budget does not apply and refills.
//
// No I/O: the caller passes the time and the packet engine's running packet total.

#include <cstdint>
#include <mutex>

namespace ipsecfs::fs {

class RequestBudget {
  public:
    // Traffic counts as flowing until the packet total has stood still this long.
    static constexpr int64_t kQuietNs = 100'000'000;

    // `rate` requests per second while traffic flows; 0: no limit.
    explicit RequestBudget(uint32_t rate) : rate_(rate), tokens_(rate) {}

    // Before taking the next request: 0 to go on (one request of the budget is spent), or how
    // many nanoseconds to wait before asking again. Thread-safe.
    int64_t wait_ns(int64_t now_ns, uint64_t packets);

  private:
    const uint32_t rate_;
    std::mutex mutex_;
    double tokens_;  // requests that may be answered at once, up to rate_
    int64_t refilled_ns_ = 0;
    uint64_t packets_ = 0;
    int64_t packets_moved_ns_ = INT64_MIN / 2;  // long ago: quiet at first
    bool started_ = false;
};

}  // namespace ipsecfs::fs
