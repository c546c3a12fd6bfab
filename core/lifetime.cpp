#include "core/lifetime.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "core/outbound_sequence.hpp"
#include "core/sa_values.hpp"
#include "core/sadb.hpp"

namespace ipsecfs {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

const LifeLimit& limit_of(const Sa& sa, LifeKind kind) {
    return sa.config().life[static_cast<std::size_t>(kind)];
}

ExpiryCause cause_of(LifeKind kind) {
    return static_cast<ExpiryCause>(kind);  // same order: allocations, bytes, addtime, usetime,
                                            // packets
}

bool has_sequence_space(const Sa& sa) {
    const SaProto p = sa.said().proto;
    return sa.config().dir == Direction::out && (p == SaProto::esp || p == SaProto::ah);
}

uint64_t seq_soft_mark(const Sa& sa, uint64_t headroom) {
    const uint64_t limit = sequence_limit(sa);
    return headroom >= limit ? 0 : limit - headroom;
}

LifeEvent make_event(const Sa& sa, LifeEvent::Level level, ExpiryCause cause, int64_t now_ns,
                     uint64_t seq_soft_headroom) {
    LifeEvent e;
    e.level = level;
    e.said = sa.said();
    e.sa_id = sa.id();
    e.dir = sa.config().dir;
    e.cause = cause;
    e.at_ns = now_ns;
    const SaCounters& k = sa.counters();
    e.current = level == LifeEvent::Level::soft ? k.soft_value.load(std::memory_order_relaxed)
                                                : k.hard_value.load(std::memory_order_relaxed);
    if (cause == ExpiryCause::sequence) {
        e.soft = seq_soft_headroom ? seq_soft_mark(sa, seq_soft_headroom) : 0;
        e.hard = sequence_limit(sa);
    } else if (cause != ExpiryCause::group) {
        const auto kind = static_cast<LifeKind>(cause);
        e.soft = limit_of(sa, kind).soft;
        e.hard = limit_of(sa, kind).hard;
    }
    return e;
}

void append_u64(std::string& out, uint64_t v) {
    out += std::to_string(v);
}

}  // namespace

std::string_view expiry_cause_name(ExpiryCause c) {
    static constexpr std::array<std::string_view, 7> kNames = {
        "allocations", "bytes", "addtime", "usetime", "packets", "sequence", "group"};
    const auto i = static_cast<std::size_t>(c);
    return i < kNames.size() ? kNames[i] : "unknown";
}

std::string_view life_state_name(LifeState s) {
    switch (s) {
        case LifeState::mature:
            return "mature";
        case LifeState::dying:
            return "dying";
        case LifeState::expired:
            return "expired";
    }
    return "unknown";
}

uint64_t life_current(const Sa& sa, const SadbSnapshot& snap, LifeKind kind, int64_t now_ns) {
    const SaCounters& k = sa.counters();
    switch (kind) {
        case LifeKind::alloc:
            return snap.allocations(sa.said());
        case LifeKind::bytes:
            return k.bytes.get();
        case LifeKind::addtime:
            return seconds_since(sa.added_ns(), now_ns);
        case LifeKind::usetime: {
            const int64_t first = k.first_use_ns.load(std::memory_order_relaxed);
            return first ? seconds_since(first, now_ns) : 0;
        }
        case LifeKind::packets:
            return k.packets.get();
    }
    return 0;
}

uint64_t sequence_limit(const Sa& sa) {
    return sa.config().esn ? OutboundSequence::kLast64 : OutboundSequence::kLast32;
}

bool mark_soft(const Sa& sa, ExpiryCause cause, uint64_t value) {
    SaCounters& k = sa.counters();
    LifeState expected = LifeState::mature;
    if (!k.life_state.compare_exchange_strong(expected, LifeState::dying,
                                              std::memory_order_acq_rel))
        return false;
    k.soft_value.store(value, std::memory_order_relaxed);
    k.soft_cause.store(static_cast<uint8_t>(static_cast<uint8_t>(cause) + 1),
                       std::memory_order_release);
    return true;
}

bool mark_hard(const Sa& sa, ExpiryCause cause, uint64_t value) {
    SaCounters& k = sa.counters();
    LifeState state = k.life_state.load(std::memory_order_acquire);
    while (state != LifeState::expired) {
        if (k.life_state.compare_exchange_weak(state, LifeState::expired,
                                               std::memory_order_acq_rel)) {
            k.hard_value.store(value, std::memory_order_relaxed);
            k.hard_cause.store(static_cast<uint8_t>(static_cast<uint8_t>(cause) + 1),
                               std::memory_order_release);
            return true;
        }
    }
    return false;
}

bool life_admit(const Sa& sa, uint64_t clear_len, int64_t now_ns) {
    const SaCounters& k = sa.counters();
    if (k.life_state.load(std::memory_order_relaxed) == LifeState::expired) return false;
    if (!sa.has_life_limits()) return true;

    if (const uint64_t h = limit_of(sa, LifeKind::packets).hard; h && k.packets.get() >= h) {
        mark_hard(sa, ExpiryCause::packets, k.packets.get());
        return false;
    }
    if (const uint64_t h = limit_of(sa, LifeKind::bytes).hard; h) {
        const uint64_t used = k.bytes.get();
        if (used >= h || clear_len > h - used) {
            mark_hard(sa, ExpiryCause::bytes, used);
            return false;
        }
    }
    if (const uint64_t h = limit_of(sa, LifeKind::addtime).hard;
        h && seconds_since(sa.added_ns(), now_ns) >= h) {
        mark_hard(sa, ExpiryCause::addtime, seconds_since(sa.added_ns(), now_ns));
        return false;
    }
    if (const uint64_t h = limit_of(sa, LifeKind::usetime).hard; h) {
        const int64_t first = k.first_use_ns.load(std::memory_order_relaxed);
        if (first && seconds_since(first, now_ns) >= h) {
            mark_hard(sa, ExpiryCause::usetime, seconds_since(first, now_ns));
            return false;
        }
    }
    return true;
}

void life_settle(const Sa& sa, int64_t /*now_ns*/) {
    if (!sa.has_life_limits()) return;
    const SaCounters& k = sa.counters();
    for (const LifeKind kind : {LifeKind::bytes, LifeKind::packets}) {
        const LifeLimit& l = limit_of(sa, kind);
        const uint64_t c = kind == LifeKind::bytes ? k.bytes.get() : k.packets.get();
        if (l.soft && c >= l.soft) mark_soft(sa, cause_of(kind), c);
        if (l.hard && c >= l.hard) mark_hard(sa, cause_of(kind), c);
    }
}

bool life_watched(const Sa& sa) {
    return sa.has_life_limits() || has_sequence_space(sa) ||
           sa.counters().life_state.load(std::memory_order_relaxed) != LifeState::mature;
}

std::vector<LifeEvent> life_check(const Sa& sa, const SadbSnapshot& snap, int64_t now_ns,
                                  uint64_t seq_soft_headroom) {
    SaCounters& k = sa.counters();
    if (sa.has_life_limits()) {
        for (std::size_t i = 0; i < kLifeKinds; ++i) {
            const auto kind = static_cast<LifeKind>(i);
            const LifeLimit& l = sa.config().life[i];
            if (!l.soft && !l.hard) continue;
            if (kind == LifeKind::usetime && k.first_use_ns.load(std::memory_order_relaxed) == 0)
                continue;  // the clock starts at the first packet
            const uint64_t c = life_current(sa, snap, kind, now_ns);
            if (l.soft && c >= l.soft) mark_soft(sa, cause_of(kind), c);
            // An allocation limit refuses the eroute past it; reaching it ends nothing.
            if (l.hard && c >= l.hard && kind != LifeKind::alloc) mark_hard(sa, cause_of(kind), c);
        }
    }
    if (has_sequence_space(sa)) {
        const uint64_t seq = k.seq.get();
        if (seq_soft_headroom && seq >= seq_soft_mark(sa, seq_soft_headroom))
            mark_soft(sa, ExpiryCause::sequence, seq);
        if (seq >= sequence_limit(sa)) mark_hard(sa, ExpiryCause::sequence, seq);
    }

    std::vector<LifeEvent> events;
    const LifeState state = k.life_state.load(std::memory_order_acquire);
    if (state == LifeState::mature) return events;
    // The cause is stored right after the state moves; until it is visible, the next pass
    // reports the crossing.
    if (const uint8_t cause = k.soft_cause.load(std::memory_order_acquire);
        cause && !k.soft_reported.load(std::memory_order_relaxed) &&
        !k.soft_reported.exchange(true, std::memory_order_acq_rel)) {
        events.push_back(make_event(sa, LifeEvent::Level::soft, static_cast<ExpiryCause>(cause - 1),
                                    now_ns, seq_soft_headroom));
    }
    if (state == LifeState::expired) {
        if (const uint8_t cause = k.hard_cause.load(std::memory_order_acquire);
            cause && !k.hard_reported.load(std::memory_order_relaxed) &&
            !k.hard_reported.exchange(true, std::memory_order_acq_rel)) {
            events.push_back(make_event(sa, LifeEvent::Level::hard,
                                        static_cast<ExpiryCause>(cause - 1), now_ns,
                                        seq_soft_headroom));
        }
    }
    return events;
}

std::string format_life_event(const LifeEvent& e) {
    std::string out = e.level == LifeEvent::Level::soft ? "soft " : "hard ";
    out += e.said.str();
    out += e.dir == Direction::in ? " dir=in" : " dir=out";
    out += " limit=";
    out += expiry_cause_name(e.cause);
    out += " current=";
    append_u64(out, e.current);
    out += " soft=";
    append_u64(out, e.soft);
    out += " hard=";
    append_u64(out, e.hard);
    out += " time=";
    append_u64(out, static_cast<uint64_t>(std::max<int64_t>(e.at_ns, 0) / kNsPerSecond));
    if (e.expired_member) {
        out += " expired=";
        out += e.expired_member->str();
    }
    return out;
}

std::vector<std::string> life_event_environment(const LifeEvent& e) {
    char spi[16];
    std::snprintf(spi, sizeof spi, "0x%x", e.said.spi);
    std::vector<std::string> env = {
        std::string("IPSEC_EVENT=") + (e.level == LifeEvent::Level::soft ? "soft" : "hard"),
        "IPSEC_SAID=" + e.said.str(),
        "IPSEC_PROTO=" + std::string(proto_name(e.said.proto)),
        std::string("IPSEC_SPI=") + spi,
        "IPSEC_DST=" + e.said.dst.str(),
        std::string("IPSEC_DIR=") + (e.dir == Direction::in ? "in" : "out"),
        "IPSEC_LIMIT=" + std::string(expiry_cause_name(e.cause)),
        "IPSEC_CURRENT=" + std::to_string(e.current),
        "IPSEC_SOFT=" + std::to_string(e.soft),
        "IPSEC_HARD=" + std::to_string(e.hard),
        "IPSEC_TIME=" + std::to_string(std::max<int64_t>(e.at_ns, 0) / kNsPerSecond),
    };
    if (e.expired_member) env.push_back("IPSEC_EXPIRED_SAID=" + e.expired_member->str());
    return env;
}

std::optional<uint64_t> time_left(const Sa& sa, bool hard, int64_t now_ns) {
    std::optional<uint64_t> left;
    const auto consider = [&](uint64_t v) { left = left ? std::min(*left, v) : v; };
    const auto remaining = [&](int64_t since_ns, uint64_t limit_s) -> uint64_t {
        const uint64_t elapsed = seconds_since(since_ns, now_ns);
        return elapsed >= limit_s ? 0 : limit_s - elapsed;
    };
    const LifeLimit& add = limit_of(sa, LifeKind::addtime);
    if (const uint64_t l = hard ? add.hard : add.soft) consider(remaining(sa.added_ns(), l));
    const LifeLimit& use = limit_of(sa, LifeKind::usetime);
    if (const uint64_t l = hard ? use.hard : use.soft) {
        const int64_t first = sa.counters().first_use_ns.load(std::memory_order_relaxed);
        consider(first ? remaining(first, l) : l);
    }
    return left;
}

}  // namespace ipsecfs
