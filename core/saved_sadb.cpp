#include "core/saved_sadb.hpp"

#include <algorithm>

#include "core/sadb.hpp"

namespace ipsecfs {

SavedCounters save_counters(const SaCounters& k) {
    SavedCounters s;
    s.bytes = k.bytes.get();
    s.packets = k.packets.get();
    s.first_use_ns = k.first_use_ns.load(std::memory_order_relaxed);
    s.last_use_ns = k.last_use_ns.load(std::memory_order_relaxed);
    s.ooo_errs = k.ooo_errs.get();
    s.auth_errs = k.auth_errs.get();
    s.encr_size_errs = k.encr_size_errs.get();
    s.encr_pad_errs = k.encr_pad_errs.get();
    s.comp_uncompressed = k.comp_uncompressed.get();
    s.comp_compressed = k.comp_compressed.get();
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        s.drops[i] = k.drops[i].get();
    s.seq = k.seq.get();
    s.bitmap = k.bitmap.get();
    s.max_seq_diff = k.max_seq_diff.get();
    s.life_state = k.life_state.load(std::memory_order_relaxed);
    s.soft_cause = k.soft_cause.load(std::memory_order_relaxed);
    s.hard_cause = k.hard_cause.load(std::memory_order_relaxed);
    s.soft_value = k.soft_value.load(std::memory_order_relaxed);
    s.hard_value = k.hard_value.load(std::memory_order_relaxed);
    s.soft_reported = k.soft_reported.load(std::memory_order_relaxed);
    s.hard_reported = k.hard_reported.load(std::memory_order_relaxed);
    return s;
}

void load_counters(const SavedCounters& s, SaCounters& k) {
    k.bytes.set(s.bytes);
    k.packets.set(s.packets);
    k.first_use_ns.store(s.first_use_ns, std::memory_order_relaxed);
    k.last_use_ns.store(s.last_use_ns, std::memory_order_relaxed);
    k.ooo_errs.set(s.ooo_errs);
    k.auth_errs.set(s.auth_errs);
    k.encr_size_errs.set(s.encr_size_errs);
    k.encr_pad_errs.set(s.encr_pad_errs);
    k.comp_uncompressed.set(s.comp_uncompressed);
    k.comp_compressed.set(s.comp_compressed);
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        k.drops[i].set(s.drops[i]);
    k.seq.set(s.seq);
    k.bitmap.set(s.bitmap);
    k.max_seq_diff.set(s.max_seq_diff);
    k.life_state.store(s.life_state, std::memory_order_relaxed);
    k.soft_cause.store(s.soft_cause, std::memory_order_relaxed);
    k.hard_cause.store(s.hard_cause, std::memory_order_relaxed);
    k.soft_value.store(s.soft_value, std::memory_order_relaxed);
    k.hard_value.store(s.hard_value, std::memory_order_relaxed);
    k.soft_reported.store(s.soft_reported, std::memory_order_relaxed);
    k.hard_reported.store(s.hard_reported, std::memory_order_relaxed);
}

SavedSadb save_sadb(const SadbSnapshot& snap, int64_t now_ns) {
    SavedSadb out;
    out.saved_at_ns = now_ns;
    out.sas.reserve(snap.size());
    for (const auto& [said, sa] : snap.sas()) {
        SavedSa s{sa->config(), sa->added_ns(), save_counters(sa->counters()), 0};
        // An SA without a packet engine never published its starting number.
        if (s.config.dir == Direction::out)
            s.counters.seq = std::max(s.counters.seq, s.config.initial_seq);
        out.sas.push_back(std::move(s));
        if (const InboundPolicy* p = snap.policy_of(said)) out.policies.push_back({said, *p});
    }
    for (const auto& g : snap.groups())
        out.groups.push_back(g->saids);
    for (const Eroute& e : snap.eroutes())
        out.eroutes.push_back({e.src, e.dst, e.said, e.packets->get()});
    return out;
}

SaConfig restart_config(const SavedSa& saved) {
    SaConfig c = saved.config;
    c.initial_seq = std::max({c.initial_seq, saved.counters.seq, saved.seq_reserved});
    return c;
}

}  // namespace ipsecfs
