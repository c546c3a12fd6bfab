#pragma once
// The packet engine's state of one SA: its keyed cipher (ESP) or HMAC (AH), and the replay
// window (inbound) or sequence counter (outbound). Owned by the worker that carries the SA's
// direction; nothing here is shared between threads. IPCOMP SAs keep no zlib state of their own:
// the worker's Processor has the one compressor and decompressor they all use.

#include <memory>
#include <optional>

#include "core/outbound_sequence.hpp"
#include "core/replay_window.hpp"
#include "core/result.hpp"
#include "core/sa.hpp"
#include "netpath/crypto/esp_cipher.hpp"
#include "netpath/crypto/hmac.hpp"

namespace ipsecfs::netpath {

class SaState final : public SaRuntime {
  public:
    // Refuses what the engine cannot carry (e.g. an IPCOMP CPI beyond 16 bits).
    static Result<std::unique_ptr<SaState>> create(const Sa& sa);

    crypto::EspCipher* cipher() { return cipher_.get(); }
    // AH's HMAC, keyed once here.
    crypto::Hmac* ah_mac() { return ah_mac_ ? &*ah_mac_ : nullptr; }
    ReplayWindow* replay() { return replay_ ? &*replay_ : nullptr; }
    OutboundSequence* sequence() { return sequence_ ? &*sequence_ : nullptr; }
    // Bytes a packet grows by when this SA protects it (the most, with padding).
    std::size_t overhead(Family outer_family) const;

  private:
    SaState() = default;
    SaProto proto_ = SaProto::esp;
    bool natt_ = false;
    std::unique_ptr<crypto::EspCipher> cipher_;
    std::optional<crypto::Hmac> ah_mac_;
    std::optional<ReplayWindow> replay_;
    std::optional<OutboundSequence> sequence_;
};

// The engine's state of an SA, or null for an SA added without one.
inline SaState* state_of(const Sa& sa) {
    return static_cast<SaState*>(sa.runtime());
}

}  // namespace ipsecfs::netpath
