#include "netpath/crypto/aes_gcm_avx512.hpp"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "netpath/crypto/gcm_x86.hpp"

// Everything that touches a vector register is compiled for these extensions only, and runs only
// after available() has found them; the rest of the program stays baseline x86-64.
#define IPSECFS_AVX512_GCM \
    __attribute__((target("avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmul,ssse3,sse4.1")))

namespace ipsecfs::crypto::avx512_gcm {
namespace {

using namespace gcm_x86;
static_assert(gcm_x86::kStateBytes == kStateBytes);
// CTR keeps 16 blocks (four vectors) in flight.
constexpr std::size_t kCtrChunkBytes = 256;

// GCC 12's intrinsics seed these three with _mm512_undefined_*(), which -Wuninitialized reports
// (GCC bug 105593); the zero-masked forms with every lane selected are the same operations.
IPSECFS_AVX512_GCM inline __m512i broadcast(__m128i x) {
    return _mm512_maskz_broadcast_i32x4(0xffff, x);
}
IPSECFS_AVX512_GCM inline __m256i half(__m512i x, int which) {
    return which == 0 ? _mm512_maskz_extracti64x4_epi64(0xf, x, 0)
                      : _mm512_maskz_extracti64x4_epi64(0xf, x, 1);
}
IPSECFS_AVX512_GCM inline __m128i lane0(__m512i x) {
    return _mm512_maskz_extracti32x4_epi32(0xf, x, 0);
}

IPSECFS_AVX512_GCM inline __m512i byte_reverse_mask() {
    return broadcast(byte_reverse_mask128());
}

IPSECFS_AVX512_GCM inline __m128i xor_lanes(__m512i v) {
    const __m256i folded = _mm256_xor_si256(half(v, 0), half(v, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(folded), _mm256_extracti128_si256(folded, 1));
}

IPSECFS_AVX512_GCM inline __mmask64 first_bytes(std::size_t n) {
    return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
}

// A 256-bit carry-less product, or a sum of them, before reduction.
struct Unreduced {
    __m128i lo;
    __m128i hi;
};

// The sum of (Y ^ X_0)·h[0] ^ X_1·h[1] ^ … over the `take` bytes at p (at most 64 blocks, the last
// zero-padded), four blocks a time, unreduced: h[i] is the 16-byte power block i multiplies.
IPSECFS_AVX512_GCM inline Unreduced ghash_chunk(const uint8_t* h, __m128i y, const uint8_t* p,
                                                std::size_t take, __m512i reverse) {
    __m512i lo = _mm512_setzero_si512();
    __m512i mid = _mm512_setzero_si512();
    __m512i hi = _mm512_setzero_si512();
    for (std::size_t off = 0; off < take; off += 64) {
        __m512i x =
            _mm512_shuffle_epi8(_mm512_maskz_loadu_epi8(first_bytes(take - off), p + off), reverse);
        if (off == 0) x = _mm512_xor_si512(x, _mm512_zextsi128_si512(y));
        const __m512i hp = _mm512_loadu_si512(h + off);
        lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(x, hp, 0x00));
        hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(x, hp, 0x11));
        mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(x, hp, 0x01),
                                        _mm512_clmulepi64_epi128(x, hp, 0x10), 0x96);
    }
    return {xor_lanes(_mm512_xor_si512(lo, _mm512_bslli_epi128(mid, 8))),
            xor_lanes(_mm512_xor_si512(hi, _mm512_bsrli_epi128(mid, 8)))};
}

// Y ← GHASH_H(Y, bytes), the bytes zero-padded to whole blocks. Horner's rule 64 blocks at a time:
// for a run of n blocks X_0..X_{n-1}, Y' = (Y ^ X_0)·H^n ^ X_1·H^(n-1) ^ … ^ X_{n-1}·H, summed
// unreduced and reduced once, so a 1,400-byte packet costs two reductions (each a chain of
// dependent instructions) instead of one per block. powers[k] = H^(64-k), zero for k = 64..67:
// block i of n multiplies powers[64-n+i], and four lanes at a time read four consecutive entries.
IPSECFS_AVX512_GCM __m128i ghash(const uint8_t* powers, __m128i y, const uint8_t* p,
                                 std::size_t n) {
    const __m512i reverse = byte_reverse_mask();
    while (n > 0) {
        const std::size_t take = std::min(n, kGhashChunkBytes);
        const std::size_t blocks = (take + 15) / 16;
        const Unreduced sum = ghash_chunk(powers + (kPowers - blocks) * 16, y, p, take, reverse);
        y = reduce(sum.lo, sum.hi);
        p += take;
        n -= take;
    }
    return y;
}

// ---- CTR (SP 800-38D §6.5): counter blocks inc32 of J0, the last 32 bits counting mod 2^32. In
// the byte-reversed form those 32 bits are the low lane word, so a vector add steps them.

template <int Rounds>
struct RoundKeys {
    __m512i k[Rounds + 1];
};

template <int Rounds>
IPSECFS_AVX512_GCM inline RoundKeys<Rounds> load_round_keys(const uint8_t* state) {
    RoundKeys<Rounds> rk;
    for (int r = 0; r <= Rounds; ++r)
        rk.k[r] = broadcast(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + r * 16)));
    return rk;
}

template <int Rounds>
IPSECFS_AVX512_GCM inline __m512i encrypt1(const RoundKeys<Rounds>& rk, __m512i b) {
    b = _mm512_xor_si512(b, rk.k[0]);
    for (int r = 1; r < Rounds; ++r)
        b = _mm512_aesenc_epi128(b, rk.k[r]);
    return _mm512_aesenclast_epi128(b, rk.k[Rounds]);
}

template <int Rounds>
IPSECFS_AVX512_GCM inline void encrypt4(const RoundKeys<Rounds>& rk, __m512i& a, __m512i& b,
                                        __m512i& c, __m512i& d) {
    a = _mm512_xor_si512(a, rk.k[0]);
    b = _mm512_xor_si512(b, rk.k[0]);
    c = _mm512_xor_si512(c, rk.k[0]);
    d = _mm512_xor_si512(d, rk.k[0]);
    for (int r = 1; r < Rounds; ++r) {
        a = _mm512_aesenc_epi128(a, rk.k[r]);
        b = _mm512_aesenc_epi128(b, rk.k[r]);
        c = _mm512_aesenc_epi128(c, rk.k[r]);
        d = _mm512_aesenc_epi128(d, rk.k[r]);
    }
    a = _mm512_aesenclast_epi128(a, rk.k[Rounds]);
    b = _mm512_aesenclast_epi128(b, rk.k[Rounds]);
    c = _mm512_aesenclast_epi128(c, rk.k[Rounds]);
    d = _mm512_aesenclast_epi128(d, rk.k[Rounds]);
}

// XORs the key stream for counters inc32(J0), inc32²(J0), … into p[0..n); returns E_K(J0) for
// the tag. j0 is byte-reversed.
IPSECFS_AVX512_GCM inline __m512i next_counters(__m512i& counter, __m512i step, __m512i reverse) {
    const __m512i blocks = _mm512_shuffle_epi8(counter, reverse);
    counter = _mm512_add_epi32(counter, step);
    return blocks;
}

template <int Rounds>
IPSECFS_AVX512_GCM __m128i ctr(const uint8_t* state, __m128i j0, uint8_t* p, std::size_t n) {
    const RoundKeys<Rounds> rk = load_round_keys<Rounds>(state);
    const __m512i reverse = byte_reverse_mask();
    const __m512i step = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
    __m512i counter = _mm512_add_epi32(
        broadcast(j0), _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1));
    for (; n >= kCtrChunkBytes; p += kCtrChunkBytes, n -= kCtrChunkBytes) {
        __m512i a = next_counters(counter, step, reverse);
        __m512i b = next_counters(counter, step, reverse);
        __m512i c = next_counters(counter, step, reverse);
        __m512i d = next_counters(counter, step, reverse);
        encrypt4(rk, a, b, c, d);
        _mm512_storeu_si512(p, _mm512_xor_si512(a, _mm512_loadu_si512(p)));
        _mm512_storeu_si512(p + 64, _mm512_xor_si512(b, _mm512_loadu_si512(p + 64)));
        _mm512_storeu_si512(p + 128, _mm512_xor_si512(c, _mm512_loadu_si512(p + 128)));
        _mm512_storeu_si512(p + 192, _mm512_xor_si512(d, _mm512_loadu_si512(p + 192)));
    }
    for (; n > 0; p += std::min<std::size_t>(n, 64), n -= std::min<std::size_t>(n, 64)) {
        const __mmask64 m = first_bytes(n);
        const __m512i key_stream = encrypt1(rk, next_counters(counter, step, reverse));
        _mm512_mask_storeu_epi8(p, m, _mm512_xor_si512(key_stream, _mm512_maskz_loadu_epi8(m, p)));
    }
    const __m512i first = encrypt1(rk, broadcast(_mm_shuffle_epi8(j0, byte_reverse_mask128())));
    return lane0(first);
}

// Adds x·h to sum.
IPSECFS_AVX512_GCM inline void multiply_add(Unreduced& sum, __m128i x, __m128i h) {
    const __m128i mid =
        _mm_xor_si128(_mm_clmulepi64_si128(x, h, 0x01), _mm_clmulepi64_si128(x, h, 0x10));
    sum.lo = _mm_ternarylogic_epi64(sum.lo, _mm_clmulepi64_si128(x, h, 0x00),
                                    _mm_slli_si128(mid, 8), 0x96);
    sum.hi = _mm_ternarylogic_epi64(sum.hi, _mm_clmulepi64_si128(x, h, 0x11),
                                    _mm_srli_si128(mid, 8), 0x96);
}

// S = GHASH_H(A || 0^v || C || 0^u || [len(A)]64 || [len(C)]64) (§7.1 step 5), reflected.
//
// With an AAD of one block at most (ESP's 8 or 12 bytes) the three parts are one sequence of
// blocks for Horner's rule: A, C's blocks, then the lengths block L, in chunks of up to 64 blocks
// summed unreduced (block i of a chunk of m multiplies H^(m-i)). A joins the first chunk and L
// the last, so a packet of up to 62 blocks costs one reduction and a 1,400-byte one two, instead
// of one for each part and each 64 blocks of C: the reductions are chains of dependent
// instructions, and a packet's fixed cost. L is made in registers: loaded from a block just
// stored on the stack, it waited for those stores to reach the cache.
IPSECFS_AVX512_GCM __m128i tag_hash(const uint8_t* state, std::span<const uint8_t> aad,
                                    std::span<const uint8_t> ciphertext) {
    const uint8_t* powers = state + kPowersOffset;
    if (aad.size() > 16) {
        __m128i y = ghash(powers, _mm_setzero_si128(), aad.data(), aad.size());
        y = ghash(powers, y, ciphertext.data(), ciphertext.size());
        const std::array<uint8_t, 16> lengths = lengths_block(aad.size(), ciphertext.size());
        return ghash(powers, y, lengths.data(), lengths.size());
    }
    const auto power = [powers](std::size_t k) {  // H^k, 1 <= k <= 64
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(powers + (kPowers - k) * 16));
    };
    const __m512i reverse = byte_reverse_mask();
    const std::size_t a_blocks = aad.empty() ? 0 : 1;
    // L byte-reversed: len(C) in bits in the low quadword, len(A) in the high one.
    const __m128i lengths = _mm_set_epi64x(static_cast<long long>(aad.size() * 8),
                                           static_cast<long long>(ciphertext.size() * 8));
    const uint8_t* p = ciphertext.data();
    std::size_t n = ciphertext.size();
    std::size_t c_blocks = (n + 15) / 16;  // left to hash
    __m128i y = _mm_setzero_si128();
    for (bool first = true;; first = false) {
        const std::size_t room = kPowers - (first ? a_blocks : 0);
        const std::size_t take_blocks = std::min(c_blocks, room);
        const bool with_lengths = take_blocks == c_blocks && take_blocks < room;
        const std::size_t take = std::min(n, take_blocks * 16);
        // C's blocks and L multiply H^blocks .. H^1; A, in the first chunk, H^(blocks + 1).
        const std::size_t blocks = take_blocks + (with_lengths ? 1 : 0);
        Unreduced sum = ghash_chunk(powers + (kPowers - blocks) * 16, y, p, take, reverse);
        if (first && a_blocks != 0) {
            const __mmask16 m = static_cast<__mmask16>((1u << aad.size()) - 1);
            const __m128i a =
                _mm_shuffle_epi8(_mm_maskz_loadu_epi8(m, aad.data()), byte_reverse_mask128());
            multiply_add(sum, a, power(blocks + 1));
        }
        if (with_lengths) {
            // Y goes into the chunk's first block: L's own when no block of C is left for it.
            multiply_add(sum, take == 0 ? _mm_xor_si128(lengths, y) : lengths, power(1));
        }
        y = reduce(sum.lo, sum.hi);
        if (with_lengths) return y;
        p += take;
        n -= take;
        c_blocks -= take_blocks;
    }
}

IPSECFS_AVX512_GCM __m128i crypt(const uint8_t* state, __m128i j0, std::span<uint8_t> data) {
    if (state[kRoundsOffset] == 14) return ctr<14>(state, j0, data.data(), data.size());
    return ctr<10>(state, j0, data.data(), data.size());
}

constexpr SealFn seal_impl = seal_with<crypt, tag_hash>;
constexpr OpenFn open_impl = open_with<crypt, tag_hash>;

}  // namespace

bool available() noexcept {
    static const bool ok =
        gcm_x86::cpu_has(VectorBits::v512) && known_answers_match(seal_impl, open_impl);
    return ok;
}

bool expand_key(std::span<const uint8_t> key, std::span<uint8_t, kStateBytes> state) noexcept {
    return available() && gcm_x86::expand(key, state);
}

bool seal(std::span<const uint8_t, kStateBytes> state, std::span<const uint8_t, 12> nonce,
          std::span<const uint8_t> aad, std::span<uint8_t> data,
          std::span<uint8_t, 16> tag) noexcept {
    return seal_impl(state, nonce, aad, data, tag);
}

bool open(std::span<const uint8_t, kStateBytes> state, std::span<const uint8_t, 12> nonce,
          std::span<const uint8_t> aad, std::span<uint8_t> data,
          std::span<const uint8_t, 16> tag) noexcept {
    return open_impl(state, nonce, aad, data, tag);
}

}  // namespace ipsecfs::crypto::avx512_gcm
