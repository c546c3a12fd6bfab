#include "netpath/sa_state.hpp"

#include "netpath/esp_packet.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {

Result<std::unique_ptr<SaState>> SaState::create(const Sa& sa) {
    const SaConfig& cfg = sa.config();
    std::unique_ptr<SaState> s(new SaState());
    s->proto_ = cfg.xform.proto;
    s->natt_ = cfg.natt != NatEncap::none;
    if (cfg.xform.proto == SaProto::esp) {
        auto cipher = crypto::make_esp_cipher(cfg.xform, cfg.enc_key, cfg.auth_key);
        if (!cipher) return std::move(cipher).take_error();
        s->cipher_ = std::move(*cipher);
    }
    if (cfg.xform.proto == SaProto::esp || cfg.xform.proto == SaProto::ah) {
        if (cfg.dir == Direction::in) {
            s->replay_.emplace(cfg.replay_window ? cfg.replay_window : kDefaultReplayWindow,
                               cfg.esn, cfg.initial_seq);
            sa.counters().seq.set(s->replay_->highest());
        } else {
            s->sequence_.emplace(cfg.esn, cfg.initial_seq);
            sa.counters().seq.set(cfg.initial_seq);
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
            return 12 + 16 + 4;  // header, the largest ICV, IPv6 alignment
        case SaProto::comp:
            return 4;
    }
    return 0;
}

}  // namespace ipsecfs::netpath
