#include "core/top_frame.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace ipsecfs {
namespace {

constexpr std::size_t kMinSaidWidth = 18;
constexpr std::size_t kXformWidth = 21;  // ESP_CHACHA20_POLY1305

std::string format(const char* fmt, auto... args) {
    char buf[256];
    const int n = std::snprintf(buf, sizeof(buf), fmt, args...);
    return std::string(buf, static_cast<std::size_t>(std::clamp(n, 0, int{sizeof(buf) - 1})));
}

std::string rate_text(const SaRate& r, double v) {
    return r.measured ? short_number(v) : "-";
}

std::string totals_line(const char* name, const DirectionTotals& d, bool measured) {
    const auto num = [&](double v) { return measured ? short_number(v) : std::string("-"); };
    return format("%-4s %6zu SAs %8s bytes/s %8s packets/s %8s errors/s\n", name, d.sas,
                  num(d.bytes_per_s).c_str(), num(d.packets_per_s).c_str(),
                  num(d.errors_per_s).c_str());
}

void add_line(std::string& out, std::string line, std::size_t width) {
    // Lines are ASCII: cut by bytes.
    if (width && line.size() > width + 1) {
        line.resize(width);
        line += '\n';
    }
    out += line;
}

}  // namespace

std::string short_number(double v) {
    if (v <= 0) return "0";
    if (v < 10 && v != static_cast<double>(static_cast<uint64_t>(v))) return format("%.1f", v);
    if (v < 10'000) return format("%.0f", v);
    static constexpr std::array<char, 4> kUnits = {'k', 'M', 'G', 'T'};
    std::size_t unit = 0;
    v /= 1000;
    while (v >= 999.95 && unit + 1 < kUnits.size()) {
        v /= 1000;
        ++unit;
    }
    return v < 99.95 ? format("%.1f%c", v, kUnits[unit]) : format("%.0f%c", v, kUnits[unit]);
}

std::string_view sort_name(RateSort s) {
    switch (s) {
        case RateSort::packets:
            return "packets";
        case RateSort::errors:
            return "errors";
        case RateSort::bytes:
            break;
    }
    return "bytes";
}

std::string format_top_frame(std::span<const SaRate> rates, const TopLayout& layout) {
    const bool measured =
        std::all_of(rates.begin(), rates.end(), [](const SaRate& r) { return r.measured; });
    const RateTotals totals = total_rates(rates);
    std::string out;
    add_line(out,
             format("ipsec top - %s, every %.1f s, %zu SAs, sorted by %s/s\n", layout.clock.c_str(),
                    layout.interval, rates.size(), std::string(sort_name(layout.sort)).c_str()),
             layout.width);
    add_line(out, totals_line("in", totals.in, measured), layout.width);
    add_line(out, totals_line("out", totals.out, measured), layout.width);
    add_line(out, "\n", layout.width);

    constexpr std::size_t kHeaderLines = 5;
    std::size_t rows = rates.size();
    if (layout.height)
        rows = std::min(rows, layout.height > kHeaderLines ? layout.height - kHeaderLines : 0);
    std::size_t said_width = kMinSaidWidth;
    for (std::size_t i = 0; i < rows; ++i)
        said_width = std::max(said_width, rates[i].sample.said.size());
    const int sw = static_cast<int>(said_width);
    const int xw = static_cast<int>(kXformWidth);
    add_line(out,
             format("%-*s %-*s %-3s %8s %8s %8s %8s %8s %8s\n", sw, "SAID", xw, "XFORM", "DIR",
                    "BYTES/S", "PKTS/S", "ERRS/S", "BYTES", "PACKETS", "ERRORS"),
             layout.width);
    for (std::size_t i = 0; i < rows; ++i) {
        const SaRate& r = rates[i];
        const SaSample& s = r.sample;
        add_line(
            out,
            format("%-*s %-*s %-3s %8s %8s %8s %8s %8s %8s\n", sw, s.said.c_str(), xw,
                   s.xform.c_str(), s.inbound ? "in" : "out", rate_text(r, r.bytes_per_s).c_str(),
                   rate_text(r, r.packets_per_s).c_str(), rate_text(r, r.errors_per_s).c_str(),
                   short_number(static_cast<double>(s.bytes)).c_str(),
                   short_number(static_cast<double>(s.packets)).c_str(),
                   short_number(static_cast<double>(s.errors)).c_str()),
            layout.width);
    }
    return out;
}

}  // namespace ipsecfs
