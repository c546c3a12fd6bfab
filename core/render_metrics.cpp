#include "core/render_metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "core/outbound_sequence.hpp"
#include "core/sa_values.hpp"

namespace ipsecfs {
namespace {

struct MetricFamily {
    std::string_view name;
    std::string_view type;
    std::string_view help;
};

constexpr MetricFamily kPackets{"ipsec_packets_total", "counter",
                                "Clear packets read from (out) or written to (in) the TUN device."};
constexpr MetricFamily kProtectedPackets{"ipsec_protected_packets_total", "counter",
                                         "Protected packets sent (out) or received (in)."};
constexpr MetricFamily kTunFrames{
    "ipsec_tun_frames_total", "counter",
    "Frames read from (out) or written to (in) the TUN device; with offloads one frame may carry "
    "many TCP segments."};
constexpr MetricFamily kTunBytes{"ipsec_tun_bytes_total", "counter",
                                 "Bytes of the frames read from (out) or written to (in) the TUN "
                                 "device."};
constexpr MetricFamily kDrops{
    "ipsec_drops_total", "counter",
    "Packets dropped by the daemon, by reason, with or without a known SA."};
constexpr MetricFamily kSas{"ipsec_sas", "gauge", "Security Associations in the SADB."};
constexpr MetricFamily kEroutes{"ipsec_eroutes", "gauge", "Eroutes (outbound policies)."};
constexpr MetricFamily kGroups{"ipsec_groups", "gauge", "SA groups (spigrp)."};

// Per-SA error and drop samples are sparse (absent while zero): every sample costs its labels,
// and ~25 zeros per SA would make the file for 100,000 SAs a third of a gigabyte. The daemon
// totals are always complete, so alerts can watch them and per-SA series show which SA.
struct SaCounterFamily {
    MetricFamily family;
    Counter SaCounters::*counter;
    bool sparse;
};
constexpr std::array<SaCounterFamily, 6> kSaCounters = {{
    {{"ipsec_sa_bytes_total", "counter",
      "Clear bytes protected (out) or delivered (in) by the SA."},
     &SaCounters::bytes,
     false},
    {{"ipsec_sa_packets_total", "counter", "Packets protected (out) or delivered (in) by the SA."},
     &SaCounters::packets,
     false},
    {{"ipsec_sa_ooo_errs_total", "counter",
      "Packets replayed or left of the replay window (ooo_errs); absent while zero."},
     &SaCounters::ooo_errs,
     true},
    {{"ipsec_sa_auth_errs_total", "counter",
      "Packets whose integrity check failed (auth_errs); absent while zero."},
     &SaCounters::auth_errs,
     true},
    {{"ipsec_sa_encr_size_errs_total", "counter",
      "Packets whose ciphertext had an impossible size (encr_size_errs); absent while zero."},
     &SaCounters::encr_size_errs,
     true},
    {{"ipsec_sa_encr_pad_errs_total", "counter",
      "Packets whose ESP padding was wrong (encr_pad_errs); absent while zero."},
     &SaCounters::encr_pad_errs,
     true},
}};
constexpr MetricFamily kSaDrops{"ipsec_sa_drops_total", "counter",
                                "Packets of the SA dropped, by reason; absent while zero."};
constexpr MetricFamily kSaAge{"ipsec_sa_age_seconds", "gauge", "Seconds since the SA was added."};
constexpr MetricFamily kSaIdle{
    "ipsec_sa_idle_seconds", "gauge",
    "Seconds since the SA's last packet; absent until its first packet."};
constexpr MetricFamily kSaLifetimeLimit{
    "ipsec_sa_lifetime_limit", "gauge",
    "Lifetime limits that are set (allocations: eroutes, bytes, addtime and usetime: seconds, "
    "packets)."};
constexpr MetricFamily kSaReplayWindow{"ipsec_sa_replay_window", "gauge",
                                       "Replay window of an inbound AH or ESP SA, in packets."};
constexpr MetricFamily kSaSequenceHeadroom{
    "ipsec_sa_sequence_headroom", "gauge",
    "Sequence numbers an outbound AH or ESP SA may still send (2^32-1, with ESN 2^64-1, minus "
    "the last sent)."};

// The words of `ipsec spi --life soft-<kind>=N`, in LifeKind order.
constexpr std::array<std::string_view, kLifeKinds> kLifeKindNames = {
    "allocations", "bytes", "addtime", "usetime", "packets"};

void append_u64(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, end);
}

void header(std::string& out, const MetricFamily& f) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += f.help;
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += f.type;
    out += '\n';
}

// `name{labels extra} value`; `labels` and `extra` are already escaped, `extra` starts with ','.
void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view extra, uint64_t value) {
    out += name;
    if (!labels.empty() || !extra.empty()) {
        out += '{';
        out += labels;
        out += extra;
        out += '}';
    }
    out += ' ';
    append_u64(out, value);
    out += '\n';
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
}

std::string extra_label(std::string_view name, std::string_view value) {
    std::string out = ",";
    append_label(out, name, value);
    return out;
}

std::string sa_labels(const Sa& sa) {
    std::string out;
    append_label(out, "said", sa.said().str());
    append_label(out, ",direction", sa.config().dir == Direction::in ? "in" : "out");
    append_label(out, ",protocol", proto_name(sa.said().proto));
    append_label(out, ",transform", transform_display_name(sa.config().xform));
    return out;
}

void daemon_totals(std::string& out, const SadbSnapshot& snap, const DataplaneStatus& status) {
    header(out, kPackets);
    sample(out, kPackets.name, "direction=\"out\"", {}, status.packets_out.get());
    sample(out, kPackets.name, "direction=\"in\"", {}, status.packets_in.get());
    header(out, kProtectedPackets);
    sample(out, kProtectedPackets.name, "direction=\"out\"", {}, status.esp_out.get());
    sample(out, kProtectedPackets.name, "direction=\"in\"", {}, status.esp_in.get());
    header(out, kTunFrames);
    sample(out, kTunFrames.name, "direction=\"out\"", {}, status.tun_read_frames.get());
    sample(out, kTunFrames.name, "direction=\"in\"", {}, status.tun_write_frames.get());
    header(out, kTunBytes);
    sample(out, kTunBytes.name, "direction=\"out\"", {}, status.tun_read_bytes.get());
    sample(out, kTunBytes.name, "direction=\"in\"", {}, status.tun_write_bytes.get());
    header(out, kDrops);
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        std::string label;
        append_label(label, "reason", kDropReasonNames[i]);
        sample(out, kDrops.name, label, {}, status.drops[i].get());
    }
    header(out, kSas);
    sample(out, kSas.name, {}, {}, snap.size());
    header(out, kEroutes);
    sample(out, kEroutes.name, {}, {}, snap.eroutes().size());
    header(out, kGroups);
    sample(out, kGroups.name, {}, {}, snap.groups().size());
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
}

std::string render_metrics(const SadbSnapshot& snap, const DataplaneStatus& status,
                           int64_t now_ns) {
    std::vector<const Sa*> sas;
    std::vector<std::string> labels;
    sas.reserve(snap.size());
    labels.reserve(snap.size());
    std::size_t label_bytes = 0;
    for (const auto& [said, sa] : snap.sas()) {
        sas.push_back(sa.get());
        labels.push_back(sa_labels(*sa));
        label_bytes += labels.back().size();
    }

    std::string out;
    // About 10 samples per SA, each its labels plus name, extra label and value.
    out.reserve(8192 + 10 * (label_bytes + 64 * sas.size()));
    daemon_totals(out, snap, status);

    const auto each_sa = [&](const MetricFamily& f, const auto& emit) {
        header(out, f);
        for (std::size_t i = 0; i < sas.size(); ++i)
            emit(*sas[i], labels[i]);
    };

    for (const SaCounterFamily& c : kSaCounters) {
        each_sa(c.family, [&](const Sa& sa, std::string_view l) {
            const uint64_t v = (sa.counters().*c.counter).get();
            if (v || !c.sparse) sample(out, c.family.name, l, {}, v);
        });
    }

    std::array<std::string, kDropReasonCount> reasons;
    for (std::size_t r = 0; r < kDropReasonCount; ++r)
        reasons[r] = extra_label("reason", kDropReasonNames[r]);
    each_sa(kSaDrops, [&](const Sa& sa, std::string_view l) {
        for (std::size_t r = 0; r < kDropReasonCount; ++r) {
            if (uint64_t v = sa.counters().drops[r].get())
                sample(out, kSaDrops.name, l, reasons[r], v);
        }
    });

    each_sa(kSaAge, [&](const Sa& sa, std::string_view l) {
        sample(out, kSaAge.name, l, {}, seconds_since(sa.added_ns(), now_ns));
    });
    each_sa(kSaIdle, [&](const Sa& sa, std::string_view l) {
        bool used = false;
        const uint64_t idle = idle_seconds(sa, now_ns, used);
        if (used) sample(out, kSaIdle.name, l, {}, idle);
    });

    std::array<std::array<std::string, 2>, kLifeKinds> limits;
    for (std::size_t k = 0; k < kLifeKinds; ++k) {
        limits[k][0] = extra_label("kind", kLifeKindNames[k]) + extra_label("limit", "soft");
        limits[k][1] = extra_label("kind", kLifeKindNames[k]) + extra_label("limit", "hard");
    }
    each_sa(kSaLifetimeLimit, [&](const Sa& sa, std::string_view l) {
        for (std::size_t k = 0; k < kLifeKinds; ++k) {
            const LifeLimit& limit = sa.config().life[k];
            if (limit.soft) sample(out, kSaLifetimeLimit.name, l, limits[k][0], limit.soft);
            if (limit.hard) sample(out, kSaLifetimeLimit.name, l, limits[k][1], limit.hard);
        }
    });

    each_sa(kSaReplayWindow, [&](const Sa& sa, std::string_view l) {
        if (has_replay_group(sa) && sa.config().dir == Direction::in)
            sample(out, kSaReplayWindow.name, l, {}, sa.config().replay_window);
    });
    each_sa(kSaSequenceHeadroom, [&](const Sa& sa, std::string_view l) {
        if (!has_replay_group(sa) || sa.config().dir != Direction::out) return;
        // Without a packet engine the counter stays 0 while the SA may start past initial_seq.
        const uint64_t last = std::max(sa.counters().seq.get(), sa.config().initial_seq);
        sample(out, kSaSequenceHeadroom.name, l, {},
               OutboundSequence(sa.config().esn, last).remaining());
    });
    return out;
}

}  // namespace ipsecfs
