#pragma once
// What our two x86-64 AES-GCMs share (aes_gcm_avx512.cpp on 512-bit vectors, aes_gcm_vaes256.cpp
// on 256-bit ones): the layout of the expanded key, the AES key schedule, the 128-bit GHASH
// multiplication and reduction, J0 and the tag, the CPU checks and the known-answer test.
//
// Everything here works on 128-bit registers with AES-NI, PCLMULQDQ and SSE4.1, which both CPUs
// that run either file have; a function compiled for more (the callers) may inline it, one
// compiled for less may not. The unnamed namespace gives each of the two files its own copy, so
// the linker can never hand one file's copy, built for the other's instructions, to the other.
// Internal to netpath/crypto: include it only from those two files.

#include <cpuid.h>
#include <immintrin.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "netpath/byte_order.hpp"

#define IPSECFS_GCM_X86_128 __attribute__((target("aes,pclmul,ssse3,sse4.1")))

namespace ipsecfs::crypto::gcm_x86 {
namespace {

// The expanded key: round keys (15 × 16 bytes), then the powers of the hash key H^64..H^1 and
// four zero blocks (68 × 16 bytes), then the number of rounds (one byte of a 16-byte slot).
constexpr std::size_t kPowersOffset = 15 * 16;
constexpr std::size_t kPowers = 64;
constexpr std::size_t kRoundsOffset = kPowersOffset + (kPowers + 4) * 16;
constexpr std::size_t kStateBytes = kRoundsOffset + 16;
// GHASH multiplies up to 64 blocks before it reduces.
constexpr std::size_t kGhashChunkBytes = kPowers * 16;
constexpr std::size_t kMaxDataBytes = std::size_t{1} << 32;

// ---- AES key expansion (FIPS 197 §5.2, with AESKEYGENASSIST as in Intel's AES-NI white paper)

// w[i] = w[i-Nk] ^ f(w[i-1]) for the four words of a round key at once: key ^ key<<32 ^ key<<64
// ^ key<<96, then the word AESKEYGENASSIST prepared, repeated (Shuffle picks which).
template <int Shuffle>
IPSECFS_GCM_X86_128 inline __m128i expand_step(__m128i key, __m128i assist) {
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
IPSECFS_GCM_X86_128 inline __m128i next128(__m128i key) {
    return expand_step<0xff>(key, _mm_aeskeygenassist_si128(key, Rcon));
}

IPSECFS_GCM_X86_128 inline void expand_aes128(const uint8_t* key, __m128i rk[11]) {
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
IPSECFS_GCM_X86_128 inline void next256(__m128i* rk) {
    rk[0] = expand_step<0xff>(rk[-2], _mm_aeskeygenassist_si128(rk[-1], Rcon));
    rk[1] = expand_step<0xaa>(rk[-1], _mm_aeskeygenassist_si128(rk[0], 0));
}

IPSECFS_GCM_X86_128 inline void expand_aes256(const uint8_t* key, __m128i rk[15]) {
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

IPSECFS_GCM_X86_128 inline __m128i byte_reverse_mask128() {
    return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// (hi:lo) is a 256-bit carry-less product of two reflected elements; returns it modulo the field
// polynomial, reflected.
IPSECFS_GCM_X86_128 inline __m128i reduce(__m128i lo, __m128i hi) {
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

IPSECFS_GCM_X86_128 inline __m128i gf_multiply(__m128i a, __m128i b) {
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    const __m128i mid =
        _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
    lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    return reduce(lo, hi);
}

// ---- J0, the tag and the key

// In constant time: one XOR and one test of all 128 bits, whatever they hold.
IPSECFS_GCM_X86_128 inline bool tags_equal(const uint8_t* a, const uint8_t* b) {
    const __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)),
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    return _mm_testz_si128(x, x) != 0;
}

IPSECFS_GCM_X86_128 inline __m128i counter_block0(std::span<const uint8_t, 12> nonce) {
    // J0 = nonce || 0^31 || 1 for a 96-bit nonce (§7.1 step 2), byte-reversed.
    std::array<uint8_t, 16> j0{};
    std::memcpy(j0.data(), nonce.data(), nonce.size());
    j0[15] = 1;
    return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(j0.data())),
                            byte_reverse_mask128());
}

// [len(A)]64 || [len(C)]64, the last block GHASH takes (§7.1 step 5).
inline std::array<uint8_t, 16> lengths_block(std::size_t aad_bytes, std::size_t data_bytes) {
    std::array<uint8_t, 16> lengths{};
    const uint64_t aad_bits = uint64_t{aad_bytes} * 8;
    const uint64_t data_bits = uint64_t{data_bytes} * 8;
    put_be32(lengths.data(), static_cast<uint32_t>(aad_bits >> 32));
    put_be32(lengths.data() + 4, static_cast<uint32_t>(aad_bits));
    put_be32(lengths.data() + 8, static_cast<uint32_t>(data_bits >> 32));
    put_be32(lengths.data() + 12, static_cast<uint32_t>(data_bits));
    return lengths;
}

IPSECFS_GCM_X86_128 inline void finish_tag(__m128i hash, __m128i ek_j0, uint8_t* tag) {
    const __m128i t = _mm_xor_si128(_mm_shuffle_epi8(hash, byte_reverse_mask128()), ek_j0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), t);
}

// Round keys, powers of H and the number of rounds into state; false for a key that is not 16 or
// 32 bytes.
IPSECFS_GCM_X86_128 inline bool expand(std::span<const uint8_t> key,
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

// ---- GCM-AE and GCM-AD (SP 800-38D §7.1, §7.2) over one vector width's CTR and GHASH: crypt
// XORs the key stream from inc32(J0) on into data and returns E_K(J0); tag_hash is S, the GHASH of
// AAD, ciphertext and lengths, reflected.

using CryptFn = __m128i (*)(const uint8_t* state, __m128i j0, std::span<uint8_t> data);
using TagHashFn = __m128i (*)(const uint8_t* state, std::span<const uint8_t> aad,
                              std::span<const uint8_t> ciphertext);

template <CryptFn Crypt, TagHashFn TagHash>
IPSECFS_GCM_X86_128 bool seal_with(std::span<const uint8_t, kStateBytes> state,
                                   std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                                   std::span<uint8_t> data, std::span<uint8_t, 16> tag) noexcept {
    if (data.size() > kMaxDataBytes || aad.size() > kMaxDataBytes) return false;
    const __m128i ek_j0 = Crypt(state.data(), counter_block0(nonce), data);
    finish_tag(TagHash(state.data(), aad, data), ek_j0, tag.data());
    return true;
}

// The tag is checked before anything is decrypted.
template <CryptFn Crypt, TagHashFn TagHash>
IPSECFS_GCM_X86_128 bool open_with(std::span<const uint8_t, kStateBytes> state,
                                   std::span<const uint8_t, 12> nonce, std::span<const uint8_t> aad,
                                   std::span<uint8_t> data,
                                   std::span<const uint8_t, 16> tag) noexcept {
    if (data.size() > kMaxDataBytes || aad.size() > kMaxDataBytes) return false;
    const __m128i j0 = counter_block0(nonce);
    const __m128i hash = TagHash(state.data(), aad, data);
    // E_K(J0) alone: a zero-length CTR pass.
    std::array<uint8_t, 16> expected{};
    finish_tag(hash, Crypt(state.data(), j0, {}), expected.data());
    if (!tags_equal(expected.data(), tag.data())) return false;
    (void)Crypt(state.data(), j0, data);
    return true;
}

// ---- Whether the code may run here

enum class VectorBits { v256, v512 };

// CPUID and XCR0: AES-NI, PCLMULQDQ, VAES and VPCLMULQDQ, and AVX2 or AVX-512 (F, BW, VL) with
// the kernel saving the registers they use (XCR0: xmm and ymm; for 512 bits also the opmask and
// both halves of the zmm state), or the registers are not ours to use.
inline bool cpu_has(VectorBits bits) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    if ((ecx & bit_AES) == 0 || (ecx & bit_PCLMUL) == 0 || (ecx & bit_SSE4_1) == 0 ||
        (ecx & bit_OSXSAVE) == 0 || (ecx & bit_AVX) == 0) {
        return false;
    }
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    const unsigned state = bits == VectorBits::v512 ? 0xe6 : 0x06;
    if ((xcr0_lo & state) != state) return false;
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
    if ((ecx & bit_VAES) == 0 || (ecx & bit_VPCLMULQDQ) == 0) return false;
    if (bits == VectorBits::v256) return (ebx & bit_AVX2) != 0;
    return (ebx & bit_AVX512F) != 0 && (ebx & bit_AVX512BW) != 0 && (ebx & bit_AVX512VL) != 0;
}

using SealFn = bool (*)(std::span<const uint8_t, kStateBytes>, std::span<const uint8_t, 12>,
                        std::span<const uint8_t>, std::span<uint8_t>,
                        std::span<uint8_t, 16>) noexcept;
using OpenFn = bool (*)(std::span<const uint8_t, kStateBytes>, std::span<const uint8_t, 12>,
                        std::span<const uint8_t>, std::span<uint8_t>,
                        std::span<const uint8_t, 16>) noexcept;

// McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 4 and 16: both key sizes,
// AAD and a last partial block; and a changed tag refused.
inline bool known_answers_match(SealFn seal, OpenFn open) {
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
        if (!seal(state, nonce, aad, data, tag) || data != expected || tag != expected_tag ||
            !open(state, nonce, aad, data, tag) || data != plaintext) {
            return false;
        }
        tag[0] ^= 1;
        if (open(state, nonce, aad, data, tag)) return false;
    }
    return true;
}

}  // namespace
}  // namespace ipsecfs::crypto::gcm_x86
