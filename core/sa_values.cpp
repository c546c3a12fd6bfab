#include "core/sa_values.hpp"

namespace ipsecfs {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

}  // namespace

uint64_t seconds_since(int64_t then_ns, int64_t now_ns) {
    return now_ns > then_ns ? static_cast<uint64_t>((now_ns - then_ns) / kNsPerSecond) : 0;
}

uint64_t idle_seconds(const Sa& sa, int64_t now_ns, bool& used) {
    const int64_t last = sa.counters().last_use_ns.load(std::memory_order_relaxed);
    used = sa.counters().first_use_ns.load(std::memory_order_relaxed) != 0;
    return used ? seconds_since(last, now_ns) : 0;
}

bool has_replay_group(const Sa& sa) {
    const SaProto p = sa.said().proto;
    return p == SaProto::esp || p == SaProto::ah;
}

}  // namespace ipsecfs
