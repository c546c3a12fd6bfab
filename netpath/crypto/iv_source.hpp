#pragma once
// Unpredictable per-packet IVs for CBC (RFC 3602 §2: "MUST be chosen at random, and MUST be
// unpredictable"; RFC 2451 §2.3 for 3DES) without a getrandom() call per packet: a ChaCha20
// keystream under a random per-cipher key, drawn in 256-byte batches. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "core/result.hpp"
#include "netpath/crypto/secure_key.hpp"

namespace ipsecfs::crypto {

class IvSource {
  public:
    static Result<IvSource> create();

    void fill(std::span<uint8_t> out) noexcept;

    static constexpr std::size_t kBatchBytes = 256;

  private:
    explicit IvSource(SecureKey state) noexcept : state_(std::move(state)) {}
    void refill() noexcept;

    SecureKey state_;  // ChaCha20 key, then the current batch of keystream
    uint64_t batches_ = 0;
    std::size_t used_ = kBatchBytes;
};

}  // namespace ipsecfs::crypto
