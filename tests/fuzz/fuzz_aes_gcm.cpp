// Our AES-GCMs (AVX-512 and 256-bit VAES, whichever this CPU runs) against OpenSSL's on any key,
// nonce, AAD and data: the same ciphertext and tag byte for byte, each opens what the other sealed,
// and both refuse the message once any one bit of ciphertext, tag or AAD is flipped. Input: byte 0
// picks the key size (bit 0) and, with byte 1, the AAD length and the bit to flip; then 32 key
// bytes, 12 nonce bytes, the AAD, the data. Does nothing on a CPU without VAES/VPCLMULQDQ, where
// that code never runs.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "netpath/crypto/aes_gcm.hpp"
#include "netpath/crypto/aes_gcm_avx512.hpp"
#include "netpath/crypto/aes_gcm_vaes256.hpp"

using namespace ipsecfs::crypto;

namespace {

void against_openssl(GcmBackend backend, const uint8_t* bytes, std::size_t size) {
    constexpr std::size_t kHeader = 2 + 32 + 12;
    if (size < kHeader) return;
    const std::span<const uint8_t> in(bytes, size);
    const std::size_t key_bytes = (in[0] & 1) != 0 ? 32 : 16;
    const std::size_t aad_bytes = std::min<std::size_t>(in[1] % 64, size - kHeader);
    auto ours = AesGcm::create(in.subspan(2, key_bytes), backend);
    auto openssl = AesGcm::create(in.subspan(2, key_bytes), GcmBackend::openssl);
    if (!ours || !openssl) __builtin_trap();
    std::array<uint8_t, 12> nonce{};
    std::copy_n(in.begin() + 34, 12, nonce.begin());
    std::vector<uint8_t> aad(in.begin() + kHeader, in.begin() + kHeader + aad_bytes);
    const std::vector<uint8_t> plaintext(in.begin() + kHeader + aad_bytes, in.end());

    std::vector<uint8_t> a = plaintext;
    std::vector<uint8_t> b = plaintext;
    std::array<uint8_t, 16> tag_a{};
    std::array<uint8_t, 16> tag_b{};
    if (!ours->seal(nonce, aad, a, tag_a) || !openssl->seal(nonce, aad, b, tag_b)) __builtin_trap();
    if (a != b || tag_a != tag_b) __builtin_trap();

    // Flip one bit of ciphertext, tag or AAD (whichever the index lands in): both refuse.
    const std::size_t bit = (std::size_t{in[0]} << 8 | in[1]) % ((a.size() + 16 + aad.size()) * 8);
    std::vector<uint8_t> forged = a;
    std::array<uint8_t, 16> forged_tag = tag_a;
    std::vector<uint8_t> forged_aad = aad;
    const auto mask = static_cast<uint8_t>(1u << (bit % 8));
    if (bit / 8 < forged.size()) {
        forged[bit / 8] ^= mask;
    } else if (bit / 8 < forged.size() + 16) {
        forged_tag[bit / 8 - forged.size()] ^= mask;
    } else {
        forged_aad[bit / 8 - forged.size() - 16] ^= mask;
    }
    std::vector<uint8_t> forged2 = forged;
    if (ours->open(nonce, forged_aad, forged, forged_tag)) __builtin_trap();
    if (openssl->open(nonce, forged_aad, forged2, forged_tag)) __builtin_trap();

    if (!openssl->open(nonce, aad, a, tag_a) || a != plaintext) __builtin_trap();
    if (!ours->open(nonce, aad, b, tag_b) || b != plaintext) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, std::size_t size) {
    if (avx512_gcm::available()) against_openssl(GcmBackend::avx512, bytes, size);
    if (vaes256_gcm::available()) against_openssl(GcmBackend::vaes256, bytes, size);
    return 0;
}
