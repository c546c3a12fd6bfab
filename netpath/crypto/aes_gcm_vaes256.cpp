#include "netpath/crypto/aes_gcm_vaes256.hpp"

#include <immintrin.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "netpath/crypto/gcm_x86.hpp"

// Everything that touches a vector register is compiled for these extensions only (VEX-encoded:
// no AVX-512 instruction, so the code runs where AVX-512 does not), and runs only after
// available() has found them; the rest of the program stays baseline x86-64.
#define IPSECFS_VAES256_GCM __attribute__((target("avx2,vaes,vpclmulqdq,aes,pclmul,ssse3,sse4.1")))

namespace ipsecfs::crypto::vaes256_gcm {
namespace {

using namespace gcm_x86;
static_assert(gcm_x86::kStateBytes == kStateBytes);
// CTR keeps 8 blocks (four vectors) in flight: with the round keys, that is what AVX2's 16 ymm
// registers hold.
constexpr std::size_t kCtrChunkBytes = 128;
constexpr std::size_t kVectorBytes = 32;

IPSECFS_VAES256_GCM inline __m256i broadcast(__m128i x) {
    return _mm256_broadcastsi128_si256(x);
}

IPSECFS_VAES256_GCM inline __m256i byte_reverse_mask() {
    return broadcast(byte_reverse_mask128());
}

IPSECFS_VAES256_GCM inline __m128i xor_lanes(__m256i v) {
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

// The n < 32 bytes at p, zero-padded to a vector (AVX2 has no byte-masked load).
IPSECFS_VAES256_GCM inline __m256i load_partial(const uint8_t* p, std::size_t n) {
    alignas(32) std::array<uint8_t, kVectorBytes> bounce{};
    std::memcpy(bounce.data(), p, n);
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(bounce.data()));
}

// Y ← GHASH_H(Y, bytes), the bytes zero-padded to whole blocks; Horner's rule 64 blocks per
// reduction as in aes_gcm_avx512.cpp, two lanes at a time: block i of n multiplies
// powers[64-n+i] (H^(n-i)), and an odd n's last vector pairs a zero block with the zero entry
// powers[64].
IPSECFS_VAES256_GCM __m128i ghash(const uint8_t* powers, __m128i y, const uint8_t* p,
                                  std::size_t n) {
    const __m256i reverse = byte_reverse_mask();
    while (n > 0) {
        const std::size_t take = std::min(n, kGhashChunkBytes);
        const std::size_t blocks = (take + 15) / 16;
        const uint8_t* h = powers + (kPowers - blocks) * 16;
        __m256i lo = _mm256_setzero_si256();
        __m256i mid = _mm256_setzero_si256();
        __m256i hi = _mm256_setzero_si256();
        for (std::size_t off = 0; off < take; off += kVectorBytes) {
            const __m256i raw = take - off >= kVectorBytes
                                    ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + off))
                                    : load_partial(p + off, take - off);
            __m256i x = _mm256_shuffle_epi8(raw, reverse);
            if (off == 0) x = _mm256_xor_si256(x, _mm256_zextsi128_si256(y));
            const __m256i hp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + off));
            lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(x, hp, 0x00));
            hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(x, hp, 0x11));
            mid = _mm256_xor_si256(mid, _mm256_xor_si256(_mm256_clmulepi64_epi128(x, hp, 0x01),
                                                         _mm256_clmulepi64_epi128(x, hp, 0x10)));
        }
        lo = _mm256_xor_si256(lo, _mm256_bslli_epi128(mid, 8));
        hi = _mm256_xor_si256(hi, _mm256_bsrli_epi128(mid, 8));
        y = reduce(xor_lanes(lo), xor_lanes(hi));
        p += take;
        n -= take;
    }
    return y;
}

// ---- CTR (SP 800-38D §6.5): counter blocks inc32 of J0, the last 32 bits counting mod 2^32. In
// the byte-reversed form those 32 bits are the low lane word, so a vector add steps them.

template <int Rounds>
struct RoundKeys {
    __m256i k[Rounds + 1];
};

template <int Rounds>
IPSECFS_VAES256_GCM inline RoundKeys<Rounds> load_round_keys(const uint8_t* state) {
    RoundKeys<Rounds> rk;
    for (int r = 0; r <= Rounds; ++r)
        rk.k[r] = broadcast(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + r * 16)));
    return rk;
}

template <int Rounds>
IPSECFS_VAES256_GCM inline __m256i encrypt1(const RoundKeys<Rounds>& rk, __m256i b) {
    b = _mm256_xor_si256(b, rk.k[0]);
    for (int r = 1; r < Rounds; ++r)
        b = _mm256_aesenc_epi128(b, rk.k[r]);
    return _mm256_aesenclast_epi128(b, rk.k[Rounds]);
}

template <int Rounds>
IPSECFS_VAES256_GCM inline void encrypt4(const RoundKeys<Rounds>& rk, __m256i& a, __m256i& b,
                                         __m256i& c, __m256i& d) {
    a = _mm256_xor_si256(a, rk.k[0]);
    b = _mm256_xor_si256(b, rk.k[0]);
    c = _mm256_xor_si256(c, rk.k[0]);
    d = _mm256_xor_si256(d, rk.k[0]);
    for (int r = 1; r < Rounds; ++r) {
        a = _mm256_aesenc_epi128(a, rk.k[r]);
        b = _mm256_aesenc_epi128(b, rk.k[r]);
        c = _mm256_aesenc_epi128(c, rk.k[r]);
        d = _mm256_aesenc_epi128(d, rk.k[r]);
    }
    a = _mm256_aesenclast_epi128(a, rk.k[Rounds]);
    b = _mm256_aesenclast_epi128(b, rk.k[Rounds]);
    c = _mm256_aesenclast_epi128(c, rk.k[Rounds]);
    d = _mm256_aesenclast_epi128(d, rk.k[Rounds]);
}

IPSECFS_VAES256_GCM inline __m256i next_counters(__m256i& counter, __m256i step, __m256i reverse) {
    const __m256i blocks = _mm256_shuffle_epi8(counter, reverse);
    counter = _mm256_add_epi32(counter, step);
    return blocks;
}

IPSECFS_VAES256_GCM inline void xor_into(uint8_t* p, __m256i key_stream) {
    auto* v = reinterpret_cast<__m256i*>(p);
    _mm256_storeu_si256(v, _mm256_xor_si256(key_stream, _mm256_loadu_si256(v)));
}

// XORs the key stream for counters inc32(J0), inc32²(J0), … into p[0..n); returns E_K(J0) for
// the tag. j0 is byte-reversed.
template <int Rounds>
IPSECFS_VAES256_GCM __m128i ctr(const uint8_t* state, __m128i j0, uint8_t* p, std::size_t n) {
    const RoundKeys<Rounds> rk = load_round_keys<Rounds>(state);
    const __m256i reverse = byte_reverse_mask();
    const __m256i step = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    __m256i counter = _mm256_add_epi32(broadcast(j0), _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1));
    for (; n >= kCtrChunkBytes; p += kCtrChunkBytes, n -= kCtrChunkBytes) {
        __m256i a = next_counters(counter, step, reverse);
        __m256i b = next_counters(counter, step, reverse);
        __m256i c = next_counters(counter, step, reverse);
        __m256i d = next_counters(counter, step, reverse);
        encrypt4(rk, a, b, c, d);
        xor_into(p, a);
        xor_into(p + 32, b);
        xor_into(p + 64, c);
        xor_into(p + 96, d);
    }
    for (; n >= kVectorBytes; p += kVectorBytes, n -= kVectorBytes)
        xor_into(p, encrypt1(rk, next_counters(counter, step, reverse)));
    if (n > 0) {
        // The last partial vector goes through the stack, which is wiped after.
        alignas(32) std::array<uint8_t, kVectorBytes> bounce{};
        std::memcpy(bounce.data(), p, n);
        xor_into(bounce.data(), encrypt1(rk, next_counters(counter, step, reverse)));
        std::memcpy(p, bounce.data(), n);
        sodium_memzero(bounce.data(), bounce.size());
    }
    const __m256i first = encrypt1(rk, broadcast(_mm_shuffle_epi8(j0, byte_reverse_mask128())));
    return _mm256_castsi256_si128(first);
}

// S = GHASH_H(A || 0^v || C || 0^u || [len(A)]64 || [len(C)]64) (§7.1 step 5), reflected.
IPSECFS_VAES256_GCM __m128i tag_hash(const uint8_t* state, std::span<const uint8_t> aad,
                                     std::span<const uint8_t> ciphertext) {
    const uint8_t* powers = state + kPowersOffset;
    __m128i y = ghash(powers, _mm_setzero_si128(), aad.data(), aad.size());
    y = ghash(powers, y, ciphertext.data(), ciphertext.size());
    const std::array<uint8_t, 16> lengths = lengths_block(aad.size(), ciphertext.size());
    return ghash(powers, y, lengths.data(), lengths.size());
}

IPSECFS_VAES256_GCM __m128i crypt(const uint8_t* state, __m128i j0, std::span<uint8_t> data) {
    if (state[kRoundsOffset] == 14) return ctr<14>(state, j0, data.data(), data.size());
    return ctr<10>(state, j0, data.data(), data.size());
}

constexpr SealFn seal_impl = seal_with<crypt, tag_hash>;
constexpr OpenFn open_impl = open_with<crypt, tag_hash>;

}  // namespace

bool available() noexcept {
    static const bool ok =
        gcm_x86::cpu_has(VectorBits::v256) && known_answers_match(seal_impl, open_impl);
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

}  // namespace ipsecfs::crypto::vaes256_gcm
