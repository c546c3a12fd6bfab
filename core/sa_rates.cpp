#include "core/sa_rates.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace ipsecfs {
namespace {

double per_second(uint64_t now, uint64_t then, double seconds) {
    return static_cast<double>(now - then) / seconds;
}

double rate_of(const SaRate& r, RateSort by) {
    switch (by) {
        case RateSort::packets:
            return r.packets_per_s;
        case RateSort::errors:
            return r.errors_per_s;
        case RateSort::bytes:
            break;
    }
    return r.bytes_per_s;
}

uint64_t count_of(const SaSample& s, RateSort by) {
    switch (by) {
        case RateSort::packets:
            return s.packets;
        case RateSort::errors:
            return s.errors;
        case RateSort::bytes:
            break;
    }
    return s.bytes;
}

}  // namespace

std::vector<SaRate> compute_rates(std::span<const SaSample> before, std::span<const SaSample> after,
                                  double seconds) {
    std::unordered_map<std::string_view, const SaSample*> earlier;
    earlier.reserve(before.size());
    for (const SaSample& s : before)
        earlier.emplace(s.said, &s);
    std::vector<SaRate> out;
    out.reserve(after.size());
    static const SaSample kZero;
    for (const SaSample& now : after) {
        const auto it = earlier.find(now.said);
        const SaSample* then = it == earlier.end() ? &kZero : it->second;
        if (now.age < then->age || now.bytes < then->bytes || now.packets < then->packets ||
            now.errors < then->errors)
            then = &kZero;
        out.push_back({.sample = now,
                       .measured = true,
                       .bytes_per_s = per_second(now.bytes, then->bytes, seconds),
                       .packets_per_s = per_second(now.packets, then->packets, seconds),
                       .errors_per_s = per_second(now.errors, then->errors, seconds)});
    }
    return out;
}

std::vector<SaRate> unmeasured(std::span<const SaSample> samples) {
    std::vector<SaRate> out;
    out.reserve(samples.size());
    for (const SaSample& s : samples)
        out.push_back({.sample = s,
                       .measured = false,
                       .bytes_per_s = 0,
                       .packets_per_s = 0,
                       .errors_per_s = 0});
    return out;
}

void sort_rates(std::vector<SaRate>& rates, RateSort by) {
    std::stable_sort(rates.begin(), rates.end(), [by](const SaRate& a, const SaRate& b) {
        const double ra = rate_of(a, by);
        const double rb = rate_of(b, by);
        if (ra != rb) return ra > rb;
        const uint64_t ca = count_of(a.sample, by);
        const uint64_t cb = count_of(b.sample, by);
        if (ca != cb) return ca > cb;
        return a.sample.said < b.sample.said;
    });
}

RateTotals total_rates(std::span<const SaRate> rates) {
    RateTotals t;
    for (const SaRate& r : rates) {
        DirectionTotals& d = r.sample.inbound ? t.in : t.out;
        ++d.sas;
        d.bytes_per_s += r.bytes_per_s;
        d.packets_per_s += r.packets_per_s;
        d.errors_per_s += r.errors_per_s;
    }
    return t;
}

}  // namespace ipsecfs
