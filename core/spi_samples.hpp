#pragma once
// What `ipsec top` needs from each line of ipsec_spi (render.hpp prints them): the inverse of
// append_spi_line for the SAID, transform, direction, age and traffic counters.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ipsecfs {

struct SaSample {
    std::string said;
    std::string xform;  // without its colon
    bool inbound = false;
    uint64_t age = 0;  // add(c,…): seconds since the SA was added
    uint64_t bytes = 0;
    uint64_t packets = 0;
    uint64_t errors = 0;  // ooo_errs + auth_errs + encr_size_errs + encr_pad_errs
    bool operator==(const SaSample&) const = default;
};

// One sample per line that has a SAID, a transform and a dir=; other lines are skipped.
std::vector<SaSample> parse_spi_samples(std::string_view text);

}  // namespace ipsecfs
