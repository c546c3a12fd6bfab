#include "netpath/sa_state.hpp"

#include <cstdio>
#include <string>

#include "netpath/ah_packet.hpp"
#include "netpath/esp_packet.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"

namespace ipsecfs::netpath {

Result<std::unique_ptr<SaState>> SaState::create(const Sa& sa, bool reserve_sequence) {
    const SaConfig& cfg = sa.config();
    std::unique_ptr<SaState> s(new SaState());
    s->proto_ = cfg.xform.proto;
    s->natt_ = cfg.natt != NatEncap::none;
    if (cfg.xform.proto == SaProto::esp) {
        auto cipher = crypto::make_esp_cipher(cfg.xform, cfg.enc_key, cfg.auth_key);
        if (!cipher) return std::move(cipher).take_error();
        s->cipher_ = std::move(*cipher);
    }
    if (cfg.xform.proto == SaProto::ah) {
        auto mac = crypto::make_hmac(cfg.xform.auth, cfg.auth_key);
        if (!mac) return std::move(mac).take_error();
        s->ah_mac_.emplace(std::move(*mac));
    }
    if (cfg.xform.proto == SaProto::comp) {
        if (cfg.xform.comp != CompAlg::deflate) return fail("IPCOMP supports only deflate");
        // RFC 3173 §3.3: the CPI is a 16-bit field; the SAID's SPI is the CPI.
        if (cfg.said.spi > kMaxCpi) {
            char buf[64];
            std::snprintf(buf, sizeof(buf), "IPCOMP CPI 0x%x does not fit 16 bits", cfg.said.spi);
            return fail(std::string(buf) + " (RFC 3173: use comp.100 to comp.ffff)");
        }
    }
    if (cfg.xform.proto == SaProto::esp || cfg.xform.proto == SaProto::ah) {
        if (cfg.dir == Direction::in) {
            s->replay_.emplace(cfg.replay_window ? cfg.replay_window : kDefaultReplayWindow,
                               cfg.esn, cfg.initial_seq);
            SaCounters& k = sa.counters();
            if (const uint64_t bitmap = k.bitmap.get(); bitmap != 0)
                s->replay_->restore(cfg.initial_seq, bitmap, k.max_seq_diff.get());
            k.seq.set(s->replay_->highest());
        } else {
            if (reserve_sequence)
                s->reservation_ = std::make_unique<SequenceReservation>(cfg.initial_seq);
            s->sequence_.emplace(cfg.esn, cfg.initial_seq, s->reservation_.get());
            sa.counters().seq.set(s->sequence_->last());
        }
    }
    return s;
}

std::size_t SaState::overhead(Family outer_family) const {
    switch (proto_) {
        case SaProto::tun:
            return outer_family == Family::v4 ? kIpv4HeaderBytes : kIpv6HeaderBytes;
        case SaProto::esp:
            return (cipher_ ? esp_max_overhead(*cipher_) : 0) + (natt_ ? 8 : 0);
        case SaProto::ah:
            return ah_header_bytes(ah_mac_ ? ah_mac_->icv_bytes() : 16, outer_family);
        case SaProto::comp:
            // The header; a datagram that would not shrink by more than that goes uncompressed.
            return kIpcompHeaderBytes;
    }
    return 0;
}

}  // namespace ipsecfs::netpath
