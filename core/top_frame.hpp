#pragma once
// The text of one `ipsec top` frame: a header with the totals per direction, then one line per
// SA in the order given. Pure: the caller supplies the clock text and the screen size.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/live_view_options.hpp"
#include "core/sa_rates.hpp"

namespace ipsecfs {

struct TopLayout {
    std::string clock;  // e.g. "12:34:56"
    double interval = 2.0;
    RateSort sort = RateSort::bytes;
    std::size_t width = 0;   // 0: lines are not cut
    std::size_t height = 0;  // 0: every SA; else the frame has at most this many lines
};

// Lines end in '\n'. Numbers of 10,000 and more are shortened with k, M, G, T (powers of 1000).
std::string format_top_frame(std::span<const SaRate> rates, const TopLayout& layout);

// "0", "7", "0.5", "950", "12.3k", "1.2M": at most 6 characters.
std::string short_number(double v);

std::string_view sort_name(RateSort s);

}  // namespace ipsecfs
