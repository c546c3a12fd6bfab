#include "netpath/crypto/iv_source.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace ipsecfs::crypto {
namespace {

constexpr std::size_t kKeyBytes = crypto_stream_chacha20_ietf_KEYBYTES;

}  // namespace

Result<IvSource> IvSource::create() {
    auto state = SecureKey::allocate(kKeyBytes + kBatchBytes);
    if (!state) return std::move(state).take_error();
    randombytes_buf(state->data(), kKeyBytes);
    return IvSource(std::move(*state));
}

void IvSource::refill() noexcept {
    // A fresh nonce per batch keeps every keystream block distinct under the one key.
    std::array<uint8_t, crypto_stream_chacha20_ietf_NONCEBYTES> nonce{};
    const uint64_t n = batches_++;
    for (std::size_t i = 0; i < 8; ++i)
        nonce[4 + i] = static_cast<uint8_t>(n >> (8 * i));
    crypto_stream_chacha20_ietf(state_.data() + kKeyBytes, kBatchBytes, nonce.data(),
                                state_.data());
    used_ = 0;
}

void IvSource::fill(std::span<uint8_t> out) noexcept {
    while (!out.empty()) {
        if (used_ == kBatchBytes) refill();
        const std::size_t n = std::min(out.size(), kBatchBytes - used_);
        uint8_t* batch = state_.data() + kKeyBytes + used_;
        std::memcpy(out.data(), batch, n);
        sodium_memzero(batch, n);
        used_ += n;
        out = out.subspan(n);
    }
}

}  // namespace ipsecfs::crypto
