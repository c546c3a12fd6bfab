#include "core/render.hpp"

#include <charconv>
#include <cstdio>

#include "core/lifetime.hpp"
#include "core/sa_values.hpp"
#include "ipsecfs_version.hpp"

namespace ipsecfs {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

void append_u64(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, end);
}

void append_hex(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, 16);
    (void)ec;
    out += "0x";
    out.append(buf, end);
}

// ratio= appears on IPCOMP SAs that have compressed something.
bool has_ratio(const Sa& sa) {
    const SaCounters& k = sa.counters();
    return sa.said().proto == SaProto::comp &&
           (k.comp_uncompressed.get() != 0 || k.comp_compressed.get() != 0);
}

void append_ratio(std::string& out, const Sa& sa) {
    append_u64(out, sa.counters().comp_uncompressed.get());
    out += ':';
    append_u64(out, sa.counters().comp_compressed.get());
}

// The value of flags= (KLIPS prints the names of the set flags between the angle brackets;
// INFLOW has none in the seed's format).
void append_flags(std::string& out, uint32_t flags) {
    append_hex(out, flags);
    out += "<>";
}

// The three numbers of one life(c,s,h) item.
struct LifeValues {
    uint64_t c, s, h;
    bool any() const { return c != 0 || s != 0 || h != 0; }
};

LifeValues life_values(const Sa& sa, const SadbSnapshot& snap, LifeKind kind, int64_t now_ns) {
    const auto& limit = sa.config().life[static_cast<std::size_t>(kind)];
    return {life_current(sa, snap, kind, now_ns), limit.soft, limit.hard};
}

void append_triple(std::string& out, const LifeValues& v) {
    append_u64(out, v.c);
    out += ',';
    append_u64(out, v.s);
    out += ',';
    append_u64(out, v.h);
}

void append_field(std::string& out, std::string_view name, uint64_t v) {
    out += ' ';
    out += name;
    out += '=';
    append_u64(out, v);
}

std::string iv_hex(const std::vector<uint8_t>& iv) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s = "0x";
    for (uint8_t b : iv) {
        s += kDigits[b >> 4];
        s += kDigits[b & 0xf];
    }
    return s;
}

std::string policy_text(const InboundPolicy& p) {
    return p.src.str() + "->" + p.dst.str();
}

}  // namespace

uint32_t sa_flags(const Sa& sa, const SadbSnapshot& snap) {
    return snap.policy_of(sa.said()) ? kSaFlagInflow : 0;
}

void append_spi_line(std::string& out, const Sa& sa, const SadbSnapshot& snap, int64_t now_ns) {
    const SaConfig& cfg = sa.config();
    const SaCounters& k = sa.counters();
    const Transform& t = cfg.xform;

    out += sa.said().str();
    out += ' ';
    out += transform_display_name(t);
    out += cfg.dir == Direction::in ? ": dir=in src=" : ": dir=out src=";
    out += cfg.src.str();
    if (const InboundPolicy* p = snap.policy_of(sa.said())) {
        out += " policy=";
        out += policy_text(*p);
    }
    if (!cfg.iv.empty()) {
        append_field(out, "iv_bits", cfg.iv.size() * 8);
        out += "bits iv=";
        out += iv_hex(cfg.iv);
    }
    if (has_replay_group(sa)) {
        if (cfg.replay_window) append_field(out, "ooowin", cfg.replay_window);
        if (uint64_t v = k.ooo_errs.get()) append_field(out, "ooo_errs", v);
        if (uint64_t v = k.seq.get()) append_field(out, "seq", v);
        if (uint64_t v = k.bitmap.get()) {
            out += " bit=";
            append_hex(out, v);
        }
        if (uint64_t v = k.max_seq_diff.get()) append_field(out, "max_seq_diff", v);
    }
    if (uint32_t f = sa_flags(sa, snap)) {
        out += " flags=";
        append_flags(out, f);
    }
    if (unsigned v = alen_bits(t)) append_field(out, "alen", v);
    if (unsigned v = aklen_bits(t)) append_field(out, "aklen", v);
    if (uint64_t v = k.auth_errs.get()) append_field(out, "auth_errs", v);
    if (unsigned v = eklen_bits(t)) append_field(out, "eklen", v);
    if (uint64_t v = k.encr_size_errs.get()) append_field(out, "encr_size_errs", v);
    if (uint64_t v = k.encr_pad_errs.get()) append_field(out, "encr_pad_errs", v);

    out += " life(c,s,h)=";
    const auto item = [&](LifeKind kind, std::string_view name, bool show) {
        const LifeValues v = life_values(sa, snap, kind, now_ns);
        if (!show) return;
        out += name;
        out += '(';
        append_triple(out, v);
        out += ')';
    };
    const auto& life = cfg.life;
    const auto& alloc = life[static_cast<std::size_t>(LifeKind::alloc)];
    item(LifeKind::alloc, "alloc", alloc.soft != 0 || alloc.hard != 0);
    item(LifeKind::bytes, "bytes", life_values(sa, snap, LifeKind::bytes, now_ns).any());
    item(LifeKind::addtime, "add", true);
    // use(...) appears once the SA was used (KLIPS stored the first-use stamp), even within the
    // first second, or when a limit is set.
    const auto& use = life[static_cast<std::size_t>(LifeKind::usetime)];
    item(LifeKind::usetime, "use",
         k.first_use_ns.load(std::memory_order_relaxed) != 0 || use.soft != 0 || use.hard != 0);
    item(LifeKind::packets, "packets", life_values(sa, snap, LifeKind::packets, now_ns).any());

    bool used = false;
    const uint64_t idle = idle_seconds(sa, now_ns, used);
    if (used) append_field(out, "idle", idle);
    if (has_ratio(sa)) {
        out += " ratio=";
        append_ratio(out, sa);
    }
    if (cfg.natt != NatEncap::none) {
        out += " natencap=";
        out += natencap_name(cfg.natt);
        append_field(out, "natsport", cfg.natt_sport);
        append_field(out, "natdport", cfg.natt_dport);
    }
    out += '\n';
}

std::string render_spi(const SadbSnapshot& snap, int64_t now_ns) {
    std::string out;
    out.reserve(snap.size() * 200);
    for (const auto& [said, sa] : snap.sas())
        append_spi_line(out, *sa, snap, now_ns);
    return out;
}

std::string render_eroute(const SadbSnapshot& snap) {
    std::string out;
    char line[512];
    for (const Eroute& e : snap.eroutes()) {
        std::snprintf(line, sizeof(line), "%-10llu %-18s -> %-18s => %s\n",
                      static_cast<unsigned long long>(e.packets->get()), e.src.str().c_str(),
                      e.dst.str().c_str(), e.said.str().c_str());
        out += line;
    }
    return out;
}

std::string render_spigrp(const SadbSnapshot& snap) {
    std::string out;
    for (const auto& g : snap.groups()) {
        for (const Said& s : g->saids) {
            out += s.str();
            out += ' ';
        }
        out += '\n';
    }
    return out;
}

std::string render_tncfg(const DataplaneStatus& status) {
    TunnelStatus t;
    if (!status.tunnel(t)) return {};
    std::string out = t.tun_name + " -> " + (t.outer_dev.empty() ? "NULL" : t.outer_dev) + " mtu=";
    append_u64(out, t.tun_mtu);
    out += '(';
    append_u64(out, t.path_mtu);
    out += ") -> ";
    append_u64(out, t.outer_mtu);
    out += '\n';
    return out;
}

std::string render_version() {
    return std::string("ipsecfs version: ") + IPSECFS_VERSION + "\n";
}

std::string render_stats(const DataplaneStatus& status) {
    std::string out;
    const auto line = [&](std::string_view name, uint64_t v) {
        out += name;
        out += '=';
        append_u64(out, v);
        out += '\n';
    };
    line("packets_out", status.packets_out.get());
    line("packets_in", status.packets_in.get());
    line("esp_out", status.esp_out.get());
    line("esp_in", status.esp_in.get());
    line("tun_read_frames", status.tun_read_frames.get());
    line("tun_read_bytes", status.tun_read_bytes.get());
    line("tun_write_frames", status.tun_write_frames.get());
    line("tun_write_bytes", status.tun_write_bytes.get());
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        out += "drop_";
        line(kDropReasonNames[i], status.drops[i].get());
    }
    return out;
}

std::string render_look(const SadbSnapshot& snap, const DataplaneStatus& status, int64_t now_ns) {
    std::string out = render_eroute(snap);
    out += render_spigrp(snap);
    // `ipsec look` squeezes " -> " in the tncfg line (KLIPS look.in).
    std::string tncfg = render_tncfg(status);
    for (std::size_t pos; (pos = tncfg.find(" -> ")) != std::string::npos;)
        tncfg.replace(pos, 4, "->");
    out += tncfg;
    out += render_spi(snap, now_ns);
    return out;
}

std::string render_sa_field(const Sa& sa, const SadbSnapshot& snap, SaField field, int64_t now_ns) {
    const SaConfig& cfg = sa.config();
    const SaCounters& k = sa.counters();
    const Transform& t = cfg.xform;
    std::string out;
    const auto number = [&](uint64_t v) {
        append_u64(out, v);
        out += '\n';
        return out;
    };
    // The line prints these in hex when set; a file of an absent field reads 0.
    const auto hex_or_zero = [&](uint64_t v) {
        if (v) {
            append_hex(out, v);
            out += '\n';
            return out;
        }
        return std::string("0\n");
    };
    // The replay group exists on AH/ESP SAs only; elsewhere its files read 0 like the line.
    const bool replay = has_replay_group(sa);
    const auto life = [&](LifeKind kind) {
        append_triple(out, life_values(sa, snap, kind, now_ns));
        out += '\n';
        return out;
    };
    switch (field) {
        case SaField::said:
            return sa.said().str() + "\n";
        case SaField::xform:
            return transform_display_name(t) + "\n";
        case SaField::dir:
            return cfg.dir == Direction::in ? "in\n" : "out\n";
        case SaField::src:
            return cfg.src.str() + "\n";
        case SaField::policy: {
            const InboundPolicy* p = snap.policy_of(sa.said());
            return (p ? policy_text(*p) : std::string()) + "\n";
        }
        case SaField::iv_bits:
            // The line prints `iv_bits=64bits`.
            if (cfg.iv.empty()) return "0\n";
            append_u64(out, cfg.iv.size() * 8);
            out += "bits\n";
            return out;
        case SaField::iv:
            return (cfg.iv.empty() ? std::string() : iv_hex(cfg.iv)) + "\n";
        case SaField::ooowin:
            return number(replay ? cfg.replay_window : 0);
        case SaField::ooo_errs:
            return number(replay ? k.ooo_errs.get() : 0);
        case SaField::seq:
            return number(replay ? k.seq.get() : 0);
        case SaField::bit:
            return hex_or_zero(replay ? k.bitmap.get() : 0);
        case SaField::max_seq_diff:
            return number(replay ? k.max_seq_diff.get() : 0);
        case SaField::flags:
            if (uint32_t f = sa_flags(sa, snap)) {
                append_flags(out, f);
                out += '\n';
                return out;
            }
            return "0\n";
        case SaField::alen:
            return number(alen_bits(t));
        case SaField::aklen:
            return number(aklen_bits(t));
        case SaField::auth_errs:
            return number(k.auth_errs.get());
        case SaField::eklen:
            return number(eklen_bits(t));
        case SaField::encr_size_errs:
            return number(k.encr_size_errs.get());
        case SaField::encr_pad_errs:
            return number(k.encr_pad_errs.get());
        case SaField::idle: {
            bool used = false;
            return number(idle_seconds(sa, now_ns, used));
        }
        case SaField::ratio:
            if (!has_ratio(sa)) return "0\n";
            append_ratio(out, sa);
            out += '\n';
            return out;
        case SaField::natencap:
            return std::string(natencap_name(cfg.natt)) + "\n";
        case SaField::natsport:
            return number(cfg.natt_sport);
        case SaField::natdport:
            return number(cfg.natt_dport);
        case SaField::drops:
            for (std::size_t i = 0; i < kDropReasonCount; ++i) {
                out += kDropReasonNames[i];
                out += '=';
                append_u64(out, k.drops[i].get());
                out += '\n';
            }
            return out;
        case SaField::life_alloc:
            return life(LifeKind::alloc);
        case SaField::life_bytes:
            return life(LifeKind::bytes);
        case SaField::life_add:
            return life(LifeKind::addtime);
        case SaField::life_use:
            return life(LifeKind::usetime);
        case SaField::life_packets:
            return life(LifeKind::packets);
        case SaField::state:
            return std::string(life_state_name(k.life_state.load(std::memory_order_relaxed))) +
                   "\n";
        case SaField::add_time:
            return number(
                static_cast<uint64_t>(std::max<int64_t>(sa.added_ns(), 0) / kNsPerSecond));
        case SaField::use_time:
            return number(static_cast<uint64_t>(
                std::max<int64_t>(k.first_use_ns.load(std::memory_order_relaxed), 0) /
                kNsPerSecond));
        case SaField::soft_time_left:
        case SaField::hard_time_left: {
            const auto left = time_left(sa, field == SaField::hard_time_left, now_ns);
            return left ? number(*left) : std::string("\n");
        }
        case SaField::count_:
            break;
    }
    return "\n";
}

}  // namespace ipsecfs
