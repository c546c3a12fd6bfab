#include "netpath/crypto/aes_gcm_avx512.hpp"

#include <cpuid.h>
#include <immintrin.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "netpath/byte_order.hpp"

// Everything that touches a vector register is compiled for these extensions only, and runs only
// after available() has found them; the rest of the program stays baseline x86-64.
#define IPSECFS_AVX512_GCM \
    __attribute__((target("avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmul,ssse3")))

namespace ipsecfs::crypto::avx512_gcm {
namespace {

constexpr std::size_t kPowersOffset = 15 * 16;
constexpr std::size_t kPowers = 64;
constexpr std::size_t kRoundsOffset = kPowersOffset + (kPowers + 4) * 16;
static_assert(kRoundsOffset + 16 == kStateBytes);
// CTR keeps 16 blocks (four vectors) in flight; GHASH multiplies up to 64 blocks before it reduces.
constexpr std::size_t kCtrChunkBytes = 256;
constexpr std::size_t kGhashChunkBytes = kPowers * 16;
constexpr std::size_t kMaxDataBytes = std::size_t{1} << 32;

// ---- AES key expansion (FIPS 197 §5.2, with AESKEYGENASSIST as in Intel's AES-NI white paper)

// w[i] = w[i-Nk] ^ f(w[i-1]) for the four words of a round key at once: key ^ key<<32 ^ key<<64
// ^ key<<96, then the word AESKEYGENASSIST prepared, repeated (Shuffle picks which).
template <int Shuffle>
IPSECFS_AVX512_GCM inline __m128i expand_step(__m128i key, __m128i assist) {
    assist = _mm_shuffle_epi32(assist, Shuffle);
    __m128i shifted = _mm_slli_si128(key, 4);
    key = _mm_xor_si128(key, shifted);
    shifted = _mm_slli_si128(shifted, 4);
    key = _mm_xor_si128(key, shifted);
    shifted = _mm_slli_si128(shifted, 4);
    key = _mm_xor_si128(key, shifted);
    return _mm_xor_si128(key, assist);
}

template <int Rcon>
IPSECFS_AVX512_GCM inline __m128i next128(__m128i key) {
    return expand_step<0xff>(key, _mm_aeskeygenassist_si128(key, Rcon));
}

IPSECFS_AVX512_GCM void expand_aes128(const uint8_t* key, __m128i rk[11]) {
    rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
    rk[1] = next128<0x01>(rk[0]);
    rk[2] = next128<0x02>(rk[1]);
    rk[3] = next128<0x04>(rk[2]);
    rk[4] = next128<0x08>(rk[3]);
    rk[5] = next128<0x10>(rk[4]);
    rk[6] = next128<0x20>(rk[5]);
    rk[7] = next128<0x40>(rk[6]);
    rk[8] = next128<0x80>(rk[7]);
    rk[9] = next128<0x1b>(rk[8]);
    rk[10] = next128<0x36>(rk[9]);
}

// AES-256 alternates (FIPS 197 §5.2, Nk = 8): an even round key from RotWord+SubWord+Rcon of the
// odd one before it, an odd one from SubWord alone of the even one before it. Writes rk[0] and
// rk[1] from rk[-2] and rk[-1].
template <int Rcon>
IPSECFS_AVX512_GCM inline void next256(__m128i* rk) {
    rk[0] = expand_step<0xff>(rk[-2], _mm_aeskeygenassist_si128(rk[-1], Rcon));
    rk[1] = expand_step<0xaa>(rk[-1], _mm_aeskeygenassist_si128(rk[0], 0));
}

IPSECFS_AVX512_GCM void expand_aes256(const uint8_t* key, __m128i rk[15]) {
    rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
    rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
    next256<0x01>(rk + 2);
    next256<0x02>(rk + 4);
    next256<0x04>(rk + 6);
    next256<0x08>(rk + 8);
    next256<0x10>(rk + 10);
    next256<0x20>(rk + 12);
    rk[14] = expand_step<0xff>(rk[12], _mm_aeskeygenassist_si128(rk[13], 0x40));
}

// ---- GHASH (SP 800-38D §6.4) in the byte-reflected representation (Gueron and Kounavis, "Intel
// Carry-Less Multiplication Instruction and its Usage for Computing the GCM Mode", algorithm 5).
// GCM numbers the bits of a block from the most significant bit of byte 0 as x^0. Reversing the
// bytes of every block (and of H) puts x^0 at bit 127, so the field elements are bit-reflected
// integers; a carry-less product of two reflected 128-bit values is the reflected 255-bit product
// one bit short, hence the shift left by one before reducing modulo the reflected
// x^128 + x^7 + x^2 + x + 1.

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

IPSECFS_AVX512_GCM inline __m128i byte_reverse_mask128() {
    return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
IPSECFS_AVX512_GCM inline __m512i byte_reverse_mask() {
    return broadcast(byte_reverse_mask128());
}

// (hi:lo) is a 256-bit carry-less product of two reflected elements; returns it modulo the field
// polynomial, reflected.
IPSECFS_AVX512_GCM inline __m128i reduce(__m128i lo, __m128i hi) {
    // Shift hi:lo left by one bit.
    __m128i lo_carries = _mm_srli_epi32(lo, 31);
    __m128i hi_carries = _mm_srli_epi32(hi, 31);
    lo = _mm_slli_epi32(lo, 1);
    hi = _mm_slli_epi32(hi, 1);
    const __m128i across = _mm_srli_si128(lo_carries, 12);
    hi_carries = _mm_slli_si128(hi_carries, 4);
    lo_carries = _mm_slli_si128(lo_carries, 4);
    lo = _mm_or_si128(lo, lo_carries);
    hi = _mm_or_si128(_mm_or_si128(hi, hi_carries), across);
    // Fold lo into hi: x^128 = x^7 + x^2 + x + 1, reflected as shifts by 31, 30 and 25, then 1,
    // 2, 7.
    __m128i a = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
                              _mm_slli_epi32(lo, 25));
    const __m128i a_high = _mm_srli_si128(a, 4);
    lo = _mm_xor_si128(lo, _mm_slli_si128(a, 12));
    __m128i b = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
                              _mm_xor_si128(_mm_srli_epi32(lo, 7), a_high));
    lo = _mm_xor_si128(lo, b);
    return _mm_xor_si128(hi, lo);
}

IPSECFS_AVX512_GCM inline __m128i gf_multiply(__m128i a, __m128i b) {
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    const __m128i mid =
        _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
    lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    return reduce(lo, hi);
}

IPSECFS_AVX512_GCM inline __m128i xor_lanes(__m512i v) {
    const __m256i folded = _mm256_xor_si256(half(v, 0), half(v, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(folded), _mm256_extracti128_si256(folded, 1));
}

IPSECFS_AVX512_GCM inline __mmask64 first_bytes(std::size_t n) {
    return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
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
        const uint8_t* h = powers + (kPowers - blocks) * 16;
        __m512i lo = _mm512_setzero_si512();
        __m512i mid = _mm512_setzero_si512();
        __m512i hi = _mm512_setzero_si512();
        for (std::size_t off = 0; off < take; off += 64) {
            __m512i x = _mm512_shuffle_epi8(
                _mm512_maskz_loadu_epi8(first_bytes(take - off), p + off), reverse);
            if (off == 0) x = _mm512_xor_si512(x, _mm512_zextsi128_si512(y));
            const __m512i hp = _mm512_loadu_si512(h + off);
            lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(x, hp, 0x00));
            hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(x, hp, 0x11));
            mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(x, hp, 0x01),
                                            _mm512_clmulepi64_epi128(x, hp, 0x10), 0x96);
        }
        lo = _mm512_xor_si512(lo, _mm512_bslli_epi128(mid, 8));
        hi = _mm512_xor_si512(hi, _mm512_bsrli_epi128(mid, 8));
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

// In constant time: one XOR and one test of all 128 bits, whatever they hold.
IPSECFS_AVX512_GCM inline bool tags_equal(const uint8_t* a, const uint8_t* b) {
    const __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)),
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    return _mm_testz_si128(x, x) != 0;
}

IPSECFS_AVX512_GCM __m128i counter_block0(std::span<const uint8_t, 12> nonce) {
    // J0 = nonce || 0^31 || 1 for a 96-bit nonce (§7.1 step 2), byte-reversed.
    std::array<uint8_t, 16> j0{};
    std::memcpy(j0.data(), nonce.data(), nonce.size());
    j0[15] = 1;
    return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(j0.data())),
                            byte_reverse_mask128());
}

// S = GHASH_H(A || 0^v || C || 0^u || [len(A)]64 || [len(C)]64) (§7.1 step 5), reflected.
IPSECFS_AVX512_GCM __m128i tag_hash(const uint8_t* state, std::span<const uint8_t> aad,
                                    std::span<const uint8_t> ciphertext) {
    const uint8_t* powers = state + kPowersOffset;
    __m128i y = ghash(powers, _mm_setzero_si128(), aad.data(), aad.size());
    y = ghash(powers, y, ciphertext.data(), ciphertext.size());
    std::array<uint8_t, 16> lengths{};
    const uint64_t aad_bits = uint64_t{aad.size()} * 8;
    const uint64_t data_bits = uint64_t{ciphertext.size()} * 8;
    put_be32(lengths.data(), static_cast<uint32_t>(aad_bits >> 32));
    put_be32(lengths.data() + 4, static_cast<uint32_t>(aad_bits));
    put_be32(lengths.data() + 8, static_cast<uint32_t>(data_bits >> 32));
    put_be32(lengths.data() + 12, static_cast<uint32_t>(data_bits));
    return ghash(powers, y, lengths.data(), lengths.size());
}

IPSECFS_AVX512_GCM __m128i crypt(const uint8_t* state, __m128i j0, std::span<uint8_t> data) {
    if (state[kRoundsOffset] == 14) return ctr<14>(state, j0, data.data(), data.size());
    return ctr<10>(state, j0, data.data(), data.size());
}

IPSECFS_AVX512_GCM void finish_tag(__m128i hash, __m128i ek_j0, uint8_t* tag) {
    const __m128i t = _mm_xor_si128(_mm_shuffle_epi8(hash, byte_reverse_mask128()), ek_j0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), t);
}

IPSECFS_AVX512_GCM bool expand(std::span<const uint8_t> key,
                               std::span<uint8_t, kStateBytes> state) {
    __m128i rk[15];
    int rounds = 0;
    if (key.size() == 16) {
        expand_aes128(key.data(), rk);
        rounds = 10;
    } else if (key.size() == 32) {
        expand_aes256(key.data(), rk);
        rounds = 14;
    } else {
        return false;
    }
    std::fill(state.begin(), state.end(), uint8_t{0});
    for (int r = 0; r <= rounds; ++r) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data() + r * 16), rk[r]);
    }
    // H = E_K(0^128) (§6.4), reflected; powers[k] = H^(64-k).
    __m128i h = _mm_xor_si128(_mm_setzero_si128(), rk[0]);
    for (int r = 1; r < rounds; ++r)
        h = _mm_aesenc_si128(h, rk[r]);
    h = _mm_shuffle_epi8(_mm_aesenclast_si128(h, rk[rounds]), byte_reverse_mask128());
    uint8_t* powers = state.data() + kPowersOffset;
    __m128i power = h;
    for (int k = kPowers - 1; k >= 0; --k) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(powers + k * 16), power);
        power = gf_multiply(power, h);
    }
    state[kRoundsOffset] = static_cast<uint8_t>(rounds);
    sodium_memzero(rk, sizeof rk);
    return true;
}

IPSECFS_AVX512_GCM bool seal_impl(std::span<const uint8_t, kStateBytes> state,
                                  std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                                  std::span<uint8_t> data, std::span<uint8_t, 16> tag) noexcept {
    if (data.size() > kMaxDataBytes || aad.size() > kMaxDataBytes) return false;
    const __m128i ek_j0 = crypt(state.data(), counter_block0(nonce), data);
    finish_tag(tag_hash(state.data(), aad, data), ek_j0, tag.data());
    return true;
}

IPSECFS_AVX512_GCM bool open_impl(std::span<const uint8_t, kStateBytes> state,
                                  std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                                  std::span<uint8_t> data,
                                  std::span<const uint8_t, 16> tag) noexcept {
    if (data.size() > kMaxDataBytes || aad.size() > kMaxDataBytes) return false;
    const __m128i j0 = counter_block0(nonce);
    const __m128i hash = tag_hash(state.data(), aad, data);
    // E_K(J0) alone: a zero-length CTR pass.
    std::array<uint8_t, 16> expected{};
    finish_tag(hash, crypt(state.data(), j0, {}), expected.data());
    if (!tags_equal(expected.data(), tag.data())) return false;
    (void)crypt(state.data(), j0, data);
    return true;
}

bool cpu_has_instructions() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    const bool aes = (ecx & bit_AES) != 0;
    const bool pclmul = (ecx & bit_PCLMUL) != 0;
    if ((ecx & bit_OSXSAVE) == 0) return false;
    // The kernel must save the xmm, ymm, opmask and both halves of the zmm state (XCR0 bits 1, 2,
    // 5, 6 and 7), or the registers are not ours to use.
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xe6) != 0xe6) return false;
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
    return aes && pclmul && (ebx & bit_AVX512F) != 0 && (ebx & bit_AVX512BW) != 0 &&
           (ebx & bit_AVX512VL) != 0 && (ecx & bit_VAES) != 0 && (ecx & bit_VPCLMULQDQ) != 0;
}

// McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 4 and 16: both key sizes,
// AAD and a last partial block.
bool known_answers_match() {
    auto from_hex = [](const char* hex, uint8_t* out) {
        auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
        for (std::size_t i = 0; hex[2 * i] != 0; ++i) {
            out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
        }
    };
    struct Case {
        const char* key;
        const char* ciphertext;
        const char* tag;
    };
    const Case cases[] = {
        {"feffe9928665731c6d6a8f9467308308",
         "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
         "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
         "5bc94fbc3221a5db94fae95ae7121a47"},
        {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
         "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
         "76fc6ece0f4e1768cddf8853bb2d551b"},
    };
    std::array<uint8_t, 12> nonce{};
    std::array<uint8_t, 20> aad{};
    std::array<uint8_t, 60> plaintext{};
    from_hex("cafebabefacedbaddecaf888", nonce.data());
    from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad.data());
    from_hex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        plaintext.data());
    for (const Case& c : cases) {
        std::array<uint8_t, 32> key{};
        std::array<uint8_t, 60> expected{};
        std::array<uint8_t, 16> expected_tag{};
        const std::size_t key_bytes = std::strlen(c.key) / 2;
        from_hex(c.key, key.data());
        from_hex(c.ciphertext, expected.data());
        from_hex(c.tag, expected_tag.data());
        std::array<uint8_t, kStateBytes> state{};
        if (!expand({key.data(), key_bytes}, state)) return false;
        std::array<uint8_t, 60> data = plaintext;
        std::array<uint8_t, 16> tag{};
        if (!seal_impl(state, nonce, aad, data, tag) || data != expected || tag != expected_tag ||
            !open_impl(state, nonce, aad, data, tag) || data != plaintext) {
            return false;
        }
        tag[0] ^= 1;
        if (open_impl(state, nonce, aad, data, tag)) return false;
    }
    return true;
}

}  // namespace

bool available() noexcept {
    static const bool ok = cpu_has_instructions() && known_answers_match();
    return ok;
}

bool expand_key(std::span<const uint8_t> key, std::span<uint8_t, kStateBytes> state) noexcept {
    return available() && expand(key, state);
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
