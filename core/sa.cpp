#include "core/sa.hpp"

namespace ipsecfs {

std::string_view natencap_name(NatEncap n) {
    switch (n) {
        case NatEncap::none:
            return "none";
        case NatEncap::nonike:
            return "nonike";
        case NatEncap::nonesp:
            return "nonesp";
    }
    return "unknown";
}

void SaCounters::count_drop(DropReason r, uint64_t n) {
    drops[static_cast<std::size_t>(r)].add(n);
    switch (r) {
        case DropReason::replay:
        case DropReason::out_of_window:
            ooo_errs.add(n);
            break;
        case DropReason::auth_failed:
            auth_errs.add(n);
            break;
        case DropReason::bad_size:
            encr_size_errs.add(n);
            break;
        case DropReason::bad_padding:
            encr_pad_errs.add(n);
            break;
        default:
            break;
    }
}

void SaCounters::mark_used(int64_t now_ns) {
    // Read first: a compare-exchange is a locked instruction even when it fails.
    int64_t expected = 0;
    if (first_use_ns.load(std::memory_order_relaxed) == 0)
        first_use_ns.compare_exchange_strong(expected, now_ns, std::memory_order_relaxed);
    last_use_ns.store(now_ns, std::memory_order_relaxed);
}

Sa::Sa(uint64_t id, SaConfig config, int64_t added_ns)
    : id_(id), config_(std::move(config)), added_ns_(added_ns) {
    has_life_limits_ = false;
    for (const LifeLimit& l : config_.life)
        has_life_limits_ = has_life_limits_ || l.soft != 0 || l.hard != 0;
}

}  // namespace ipsecfs
