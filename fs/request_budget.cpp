#include "fs/request_budget.hpp"

#include <algorithm>

namespace ipsecfs::fs {

int64_t RequestBudget::wait_ns(int64_t now_ns, uint64_t packets) {
    if (rate_ == 0) return 0;
    std::lock_guard lock(mutex_);
    if (!started_) {
        started_ = true;
        refilled_ns_ = now_ns;
        packets_ = packets;
    }
    if (packets != packets_) {
        packets_ = packets;
        packets_moved_ns_ = now_ns;
    }
    if (now_ns > refilled_ns_) {
        const double earned = static_cast<double>(now_ns - refilled_ns_) * rate_ / 1e9;
        tokens_ = std::min<double>(rate_, tokens_ + earned);
        refilled_ns_ = now_ns;
    }
    if (now_ns - packets_moved_ns_ >= kQuietNs) return 0;
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return 0;
    }
    // Round up, so that the caller asking again then finds a whole request earned.
    return static_cast<int64_t>((1.0 - tokens_) * 1e9 / rate_) + 1;
}

}  // namespace ipsecfs::fs
