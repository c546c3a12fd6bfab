#pragma once
// The Internet checksum (RFC 1071): a one's complement sum of 16-bit big-endian words, kept
// unfolded in 64 bits while parts are added, folded and complemented at the end. TCP and UDP
// (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1) also sum a pseudo-header of addresses, protocol and
// length.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ipsecfs::netpath {

// Adds bytes to an unfolded sum. An odd length pads with a zero byte, so only the last part of a
// checksummed range may be odd.
inline uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes) {
    const uint8_t* p = bytes.data();
    std::size_t n = bytes.size();
    // Eight bytes at a time in host order: one's complement addition commutes with byte swapping
    // (RFC 1071 §2(B)), so the sum is swapped once at the end.
    uint64_t acc = 0;
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        acc += w;
        if (acc < w) ++acc;
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);  // the rest, zero padded
    acc += tail;
    if (acc < tail) ++acc;
    // Fold to 16 bits (host order) and make it big-endian.
    acc = (acc >> 32) + (acc & 0xffffffffu);
    acc = (acc >> 32) + (acc & 0xffffffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    const uint16_t host = static_cast<uint16_t>(acc);
    const uint16_t be = static_cast<uint16_t>((host >> 8) | (host << 8));
    return sum + be;
}

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
