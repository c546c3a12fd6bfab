#pragma once
// The Internet checksum (RFC 1071): a one's complement sum of 16-bit big-endian words, kept
// unfolded in 64 bits while parts are added, folded and complemented at the end. TCP and UDP
// (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1) also sum a pseudo-header of addresses, protocol and
// length.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ipsecfs::netpath {

// Adds bytes to an unfolded sum. An odd length pads with a zero byte, so only the last part of a
// checksummed range may be odd. Defined in inet_checksum.cpp, where it runs on AVX-512 or AVX2 if
// the CPU has it: it is one pass over every payload byte the tunnel carries (GSO split, GRO check).
uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes);
// The same on the baseline instruction set whatever the CPU has, for the tests to compare.
uint64_t checksum_add_baseline(uint64_t sum, std::span<const uint8_t> bytes);

inline uint64_t checksum_add16(uint64_t sum, uint16_t value) {
    return sum + value;
}

// Folds an unfolded sum to 16 bits (not complemented).
inline uint16_t checksum_fold(uint64_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// The value for a checksum field: the complement of the folded sum.
inline uint16_t checksum_finish(uint64_t sum) {
    return static_cast<uint16_t>(~checksum_fold(sum));
}

// The pseudo-header sum for TCP/UDP over IPv4 (4-byte addresses) or IPv6 (16-byte ones).
inline uint64_t pseudo_header_sum(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                                  uint8_t protocol, uint32_t length) {
    uint64_t sum = checksum_add(0, src);
    sum = checksum_add(sum, dst);
    sum += protocol;
    sum += length >> 16;
    sum += length & 0xffffu;
    return sum;
}

}  // namespace ipsecfs::netpath
