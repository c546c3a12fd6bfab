#pragma once
// A plain RFC 1071 sum for the unit tests and fuzz targets of the offload code, written apart
// from netpath/inet_checksum.hpp so that what the code under test computes is checked against
// something else: 16-bit big-endian words, an odd last byte padded with zero.

#include <cstddef>
#include <cstdint>

namespace ipsecfs::testing {

inline uint64_t sum16(const uint8_t* p, std::size_t n, uint64_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<uint64_t>(p[i]) << 8 | p[i + 1];
    if (n % 2) sum += static_cast<uint64_t>(p[n - 1]) << 8;
    return sum;
}

inline uint16_t fold(uint64_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

}  // namespace ipsecfs::testing
