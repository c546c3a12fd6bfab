#include "netpath/inet_checksum.hpp"

#include <cstring>

namespace ipsecfs::netpath {
namespace {

// 32-bit words in host order (RFC 1071 §2(C), parallel summation), each added to a 64-bit
// accumulator: below 2^32 words no carry is lost, so the carries are folded back once at the end
// (§2(D), deferred carries), and one's complement addition commutes with byte swapping (§2(B)),
// so the folded sum is swapped once. A loop without carries is one the compiler vectorizes
// (measured on 1,448 B: 15.6 GB/s with 64-bit words and carry tests, 28 GB/s like this with SSE2,
// 52 GB/s with AVX2; in a later tight loop on a Zen core, 30-34 GB/s with AVX2 and 49 GB/s with
// AVX-512).
[[gnu::always_inline]] inline uint64_t sum_words(const uint8_t* p, std::size_t n) {
    uint64_t acc = 0;
    for (; n >= 4; p += 4, n -= 4) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        acc += w;
    }
    uint32_t tail = 0;
    std::memcpy(&tail, p, n);  // the rest, zero padded
    return acc + tail;
}

uint64_t sum_words_default(const uint8_t* p, std::size_t n) {
    return sum_words(p, n);
}

#if defined(__x86_64__)
[[gnu::target("avx2")]] uint64_t sum_words_avx2(const uint8_t* p, std::size_t n) {
    return sum_words(p, n);
}
// GCC vectorizes for 256 bits on AVX-512 unless told to use all 512 (1,448 B: 49 GB/s against
// 30-34 with AVX2 on the same Zen core). clang takes no width in a target attribute.
#if defined(__clang__)
#define IPSECFS_SUM_AVX512 "avx512f,avx512bw"
#else
#define IPSECFS_SUM_AVX512 "avx512f,avx512bw,prefer-vector-width=512"
#endif
[[gnu::target(IPSECFS_SUM_AVX512)]] uint64_t sum_words_avx512(const uint8_t* p, std::size_t n) {
    return sum_words(p, n);
}
#endif

using SumWords = uint64_t (*)(const uint8_t*, std::size_t);

SumWords pick_sum_words() {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        return sum_words_avx512;
    if (__builtin_cpu_supports("avx2")) return sum_words_avx2;
#endif
    return sum_words_default;
}

// Folds the 32-bit word sum to 16 bits (host order), big-endian, added to sum.
uint64_t add_folded(uint64_t sum, uint64_t acc) {
    // Fold to 16 bits (host order) and make it big-endian.
    acc = (acc >> 32) + (acc & 0xffffffffu);
    acc = (acc >> 32) + (acc & 0xffffffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    const uint16_t host = static_cast<uint16_t>(acc);
    const uint16_t be = static_cast<uint16_t>((host >> 8) | (host << 8));
    return sum + be;
}

}  // namespace

uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes) {
    static const SumWords best_sum_words = pick_sum_words();
    return add_folded(sum, best_sum_words(bytes.data(), bytes.size()));
}

uint64_t checksum_add_baseline(uint64_t sum, std::span<const uint8_t> bytes) {
    return add_folded(sum, sum_words_default(bytes.data(), bytes.size()));
}

}  // namespace ipsecfs::netpath
