#pragma once
// Per-SA rates for `ipsec top`: the change of each SA's counters between two reads of
// ipsec_spi, divided by the seconds between them. Pure; O(n) in the number of SAs.

#include <span>
#include <vector>

#include "core/live_view_options.hpp"
#include "core/spi_samples.hpp"

namespace ipsecfs {

struct SaRate {
    SaSample sample;        // the later read
    bool measured = false;  // false in a first frame, which has no earlier read to compare with
    double bytes_per_s = 0;
    double packets_per_s = 0;
    double errors_per_s = 0;
};

// `after`'s SAs with their rates since `before`, `seconds` apart (> 0). An SA new since
// `before`, or replaced (younger than it was, or a counter went back), counts from zero: its
// instance was added within the interval.
std::vector<SaRate> compute_rates(std::span<const SaSample> before, std::span<const SaSample> after,
                                  double seconds);
// The SAs of a first read, with no rates yet.
std::vector<SaRate> unmeasured(std::span<const SaSample> samples);

// Highest rate first; ties by the counter, then by SAID.
void sort_rates(std::vector<SaRate>& rates, RateSort by);

struct DirectionTotals {
    std::size_t sas = 0;
    double bytes_per_s = 0;
    double packets_per_s = 0;
    double errors_per_s = 0;
};
struct RateTotals {
    DirectionTotals in;
    DirectionTotals out;
};
RateTotals total_rates(std::span<const SaRate> rates);

}  // namespace ipsecfs
