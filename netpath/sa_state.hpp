#pragma once
// The packet engine's state of one SA: its keyed cipher (ESP) or HMAC (AH), and the replay
// window (inbound) or sequence counter (outbound). Owned by the worker that carries the SA's
// direction; nothing here is shared between threads but the sequence reservation, which the
// daemon's state writer raises (core/outbound_sequence.hpp). IPCOMP SAs keep no zlib state of
// their own: the worker's Processor has the one compressor and decompressor they all use.

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
    // Refuses what the engine cannot carry (e.g. an IPCOMP CPI beyond 16 bits). reserve_sequence:
    // an outbound AH/ESP SA sends only numbers its reservation() allows, none until it is raised.
    // An SA brought back from the state file carries its replay window's newest bits in its
    // counters (bitmap, max_seq_diff); the window restarts from them.
    static Result<std::unique_ptr<SaState>> create(const Sa& sa, bool reserve_sequence = false);

    crypto::EspCipher* cipher() { return cipher_.get(); }
    // AH's HMAC, keyed once here.
    crypto::Hmac* ah_mac() { return ah_mac_ ? &*ah_mac_ : nullptr; }
    ReplayWindow* replay() { return replay_ ? &*replay_ : nullptr; }
    OutboundSequence* sequence() { return sequence_ ? &*sequence_ : nullptr; }
    SequenceReservation* reservation() { return reservation_.get(); }
    // Bytes a packet grows by when this SA protects it (the most, with padding).
    std::size_t overhead(Family outer_family) const;

  private:
    SaState() = default;
    SaProto proto_ = SaProto::esp;
    bool natt_ = false;
    std::unique_ptr<crypto::EspCipher> cipher_;
    std::optional<crypto::Hmac> ah_mac_;
    std::optional<ReplayWindow> replay_;
    std::unique_ptr<SequenceReservation> reservation_;
    std::optional<OutboundSequence> sequence_;  // reads reservation_
};

// The engine's state of an SA, or null for an SA added without one.
inline SaState* state_of(const Sa& sa) {
    return static_cast<SaState*>(sa.runtime());
}

}  // namespace ipsecfs::netpath
