#include "netpath/processor.hpp"
#include "netpath/byte_order.hpp"

#include <array>
#include <cstring>
#include <optional>

#include "core/lifetime.hpp"
#include "netpath/ah_packet.hpp"
#include "netpath/esp_packet.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"
#include "netpath/sa_state.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr Outcome kOk{};

using Chain = Processor::Chain;

uint8_t wire_protocol(SaProto p) {
    switch (p) {
        case SaProto::esp:
            return kProtoEsp;
        case SaProto::ah:
            return kProtoAh;
        case SaProto::comp:
            return kProtoIpcomp;
        case SaProto::tun:
            return kProtoIpip;
    }
    return 0;
}

// ---- outbound transforms -------------------------------------------------------------------

// IPIP (RFC 2003 / RFC 2473): a new outer header from the tun SA's --src to its --dst.
Outcome tun_out(const Sa& sa, Packet& pkt) {
    const SaConfig& cfg = sa.config();
    const IpAddress dst = cfg.outer_dst();
    const std::size_t hlen = dst.is_v4() ? kIpv4HeaderBytes : kIpv6HeaderBytes;
    if (pkt.headroom() < hlen || pkt.size() + hlen > Packet::kMaxData) {
        return {false, DropReason::too_big};
    }
    const uint8_t inner = (pkt.data()[0] >> 4) == 4 ? kProtoIpip : kProtoIpv6;
    const uint8_t tos = traffic_class(pkt.bytes());
    const std::size_t payload = pkt.size();
    pkt.push_front(hlen);
    write_ip_header(pkt.data(), cfg.src, dst, inner, payload, tos);
    return kOk;
}

// ESP (RFC 4303) inserted after the IP header at the front of pkt: the original header in
// transport mode, the IPIP header of a tun SA in tunnel mode.
Outcome esp_out(const Sa& sa, SaState& st, Packet& pkt) {
    const auto ip = parse_ip(pkt.bytes());
    if (!ip) return {false, DropReason::malformed};
    crypto::EspCipher* cipher = st.cipher();
    OutboundSequence* seqs = st.sequence();
    if (!cipher || !seqs) return {false, DropReason::no_sa};
    const std::size_t grow = kEspHeaderBytes + cipher->iv_bytes();
    if (pkt.headroom() < grow) return {false, DropReason::too_big};
    const auto seq = seqs->next();
    // RFC 4303 §3.3.3: the counter never cycles; the SA stops sending until it is rekeyed.
    if (!seq)
        return {false, seqs->exhausted() ? DropReason::seq_exhausted : DropReason::seq_unreserved};

    const std::size_t hlen = ip->header_len;
    const uint8_t next_header = ip->protocol;
    pkt.push_front(grow);
    std::memmove(pkt.data(), pkt.data() + grow, hlen);
    uint8_t* esp = pkt.data() + hlen;
    const std::size_t payload_len = pkt.size() - hlen - grow;
    const std::size_t room = Packet::kCapacity - pkt.offset() - hlen;
    const std::size_t n = esp_seal(*cipher, sa.said().spi, *seq, sa.config().esn, next_header,
                                   {esp + grow, payload_len}, {esp, room});
    sa.counters().seq.set(*seq);
    if (n == 0 || hlen + n > Packet::kMaxData) return {false, DropReason::too_big};
    pkt.set_size(hlen + n);
    set_protocol_and_length(pkt.bytes(), ip->family, kProtoEsp, pkt.size());
    return kOk;
}

DropReason ah_drop_reason(AhStatus s) {
    switch (s) {
        case AhStatus::unsupported:
            return DropReason::unsupported;
        case AhStatus::too_big:
            return DropReason::too_big;
        case AhStatus::auth_failed:
        case AhStatus::crypto_failed:  // an HMAC that cannot be computed authenticates nothing
            return DropReason::auth_failed;
        case AhStatus::ok:
        case AhStatus::malformed:
            break;
    }
    return DropReason::malformed;
}

// AH (RFC 4302) inserted after the IP header at the front of pkt, like ESP.
Outcome ah_out(const Sa& sa, SaState& st, Packet& pkt) {
    crypto::Hmac* mac = st.ah_mac();
    OutboundSequence* seqs = st.sequence();
    if (!mac || !seqs) return {false, DropReason::no_sa};
    const auto seq = seqs->next();
    // RFC 4302 §3.3.2: as for ESP, the counter never cycles.
    if (!seq)
        return {false, seqs->exhausted() ? DropReason::seq_exhausted : DropReason::seq_unreserved};
    ensure_ipv4_id(pkt.bytes());
    const AhStatus r = ah_seal(*mac, pkt, sa.said().spi, *seq, sa.config().esn);
    sa.counters().seq.set(*seq);
    if (r != AhStatus::ok) return {false, ah_drop_reason(r)};
    return kOk;
}

// IPCOMP (RFC 3173): compressed when it pays, else the packet goes on as it is.
Outcome comp_out(const Sa& sa, IpcompCodec& z, Packet& pkt) {
    const IpcompResult r = ipcomp_compress(z, pkt, static_cast<uint16_t>(sa.said().spi));
    if (r.status == IpcompStatus::malformed) return {false, DropReason::malformed};
    if (r.status == IpcompStatus::compressed) {
        // ratio= counts the datagrams that went through IPCOMP: payload in, compressed data
        // out. Both ends see exactly these; datagrams sent uncompressed carry no CPI and the
        // receiver could not count them.
        sa.counters().comp_uncompressed.add(r.uncompressed_bytes);
        sa.counters().comp_compressed.add(r.compressed_bytes);
    }
    return kOk;
}

// ---- inbound transforms --------------------------------------------------------------------

Outcome esp_in(const Sa& sa, SaState& st, Packet& pkt, const IpView& ip) {
    crypto::EspCipher* cipher = st.cipher();
    ReplayWindow* window = st.replay();
    if (!cipher || !window) return {false, DropReason::no_sa};
    const std::size_t hlen = ip.header_len;
    std::span<uint8_t> esp = pkt.bytes().subspan(hlen);
    const auto header = parse_esp_header(esp);
    if (!header) return {false, DropReason::malformed};

    // RFC 4303 §3.4.3: the cheap window check comes before the ICV, the window update after.
    const auto check = window->check(header->seq_lo);
    if (check.verdict != ReplayWindow::Verdict::ok) {
        return {false, check.verdict == ReplayWindow::Verdict::replay ? DropReason::replay
                                                                      : DropReason::out_of_window};
    }
    const EspOpened opened = esp_open(*cipher, esp, check.seq, sa.config().esn);
    if (opened.status != EspOpenStatus::ok) return {false, drop_reason_of(opened.status)};
    if (window->commit(check.seq) != ReplayWindow::Verdict::ok) return {false, DropReason::replay};
    SaCounters& k = sa.counters();
    k.seq.set(window->highest());
    k.bitmap.set(window->bitmap64());
    k.max_seq_diff.set(window->max_seq_diff());
    // RFC 4303 §2.6: a dummy packet (next header 59) is authentic traffic padding; it is
    // discarded without indicating an error, after it moved the window.
    if (opened.next_header == kNextHeaderNone) return {false, DropReason::malformed, true};

    // Close the gap: the IP header moves up to sit right before the decrypted payload.
    uint8_t* new_start = opened.payload.data() - hlen;
    std::memmove(new_start, pkt.data(), hlen);
    pkt.set_view(static_cast<std::size_t>(new_start - pkt.base()), hlen + opened.payload.size());
    set_protocol_and_length(pkt.bytes(), ip.family, opened.next_header, pkt.size());
    return kOk;
}

Outcome ah_in(const Sa& sa, SaState& st, Packet& pkt) {
    crypto::Hmac* mac = st.ah_mac();
    ReplayWindow* window = st.replay();
    if (!mac || !window) return {false, DropReason::no_sa};
    const AhParsed parsed = parse_ah(pkt.bytes());
    if (parsed.status != AhStatus::ok) return {false, ah_drop_reason(parsed.status)};
    const AhView& ah = parsed.ah;
    if (ah.length < kAhFixedBytes + mac->icv_bytes()) return {false, DropReason::malformed};

    // RFC 4302 §3.4.3: the window check before the ICV, the window update after it.
    const auto check = window->check(ah.seq_lo);
    if (check.verdict != ReplayWindow::Verdict::ok) {
        return {false, check.verdict == ReplayWindow::Verdict::replay ? DropReason::replay
                                                                      : DropReason::out_of_window};
    }
    const AhStatus v = ah_verify(*mac, pkt.bytes(), ah, check.seq, sa.config().esn);
    if (v != AhStatus::ok) return {false, ah_drop_reason(v)};
    if (window->commit(check.seq) != ReplayWindow::Verdict::ok) return {false, DropReason::replay};
    SaCounters& k = sa.counters();
    k.seq.set(window->highest());
    k.bitmap.set(window->bitmap64());
    k.max_seq_diff.set(window->max_seq_diff());
    ah_remove(pkt, ah);
    return kOk;
}

Outcome comp_in(const Sa& sa, IpcompCodec& z, Packet& pkt) {
    const IpcompResult r = ipcomp_decompress(z, pkt);
    if (r.status == IpcompStatus::malformed) return {false, DropReason::malformed};
    if (r.status != IpcompStatus::compressed) return {false, DropReason::decompress_failed};
    sa.counters().comp_uncompressed.add(r.uncompressed_bytes);
    sa.counters().comp_compressed.add(r.compressed_bytes);
    return kOk;
}

// The protocol of the header after the IP header (and IPv6 extension headers before it).
std::optional<uint8_t> next_protocol(std::span<const uint8_t> pkt) {
    const SlotFound f = find_ipsec_slot(pkt, false);
    if (f.status != SlotStatus::ok) return std::nullopt;
    return f.slot.next_header;
}

// policy: the tun SA's inbound policy (eroute --addin), if it has one.
Outcome tun_in(const Sa& sa, const InboundPolicy* policy, Packet& pkt, const IpView& outer) {
    const SaConfig& cfg = sa.config();
    if (outer.dst != sa.said().dst || (!cfg.src.is_unspecified() && outer.src != cfg.src)) {
        return {false, DropReason::tunnel_mismatch};
    }
    pkt.pull_front(outer.header_len);
    const auto inner = parse_ip(pkt.bytes());
    if (!inner) return {false, DropReason::malformed};
    if ((outer.protocol == kProtoIpip) != inner->src.is_v4()) return {false, DropReason::malformed};
    pkt.set_size(inner->total_len);
    if (policy) {
        if (!policy->src.contains(inner->src) || !policy->dst.contains(inner->dst)) {
            return {false, DropReason::policy_mismatch};
        }
    }
    return kOk;
}

void count_use(const Chain& chain, std::size_t clear_len, int64_t now_ns) {
    for (std::size_t i = 0; i < chain.size; ++i) {
        SaCounters& k = chain.sa[i]->counters();
        k.bytes.add_owned(clear_len);
        k.packets.add_owned(1);
        k.mark_used(now_ns);
        life_settle(*chain.sa[i], now_ns);
    }
}

}  // namespace

Outcome Processor::drop(DropReason r, const Sa* sa) {
    status_.count_drop(r);
    if (sa) sa->counters().count_drop(r);
    return {false, r};
}

// Outbound: clear packet → eroute (longest prefix on src, dst) → the SA group from the named
// SA outward → each transform in turn (tun, comp, esp, ah) → counters on every SA of the group,
// IPCOMP's included when the datagram went uncompressed.
Outcome Processor::outbound(const SadbSnapshot& snap, Packet& pkt, int64_t now_ns) {
    const auto ip = parse_ip(pkt.bytes());
    if (!ip) return drop(DropReason::malformed);
    pkt.set_size(ip->total_len);
    RouteMemo& memo = route_memo_;
    if (memo.serial == 0 || memo.serial != snap.serial() || memo.src != ip->src ||
        memo.dst != ip->dst) {
        memo.serial = 0;
        const Eroute* route = snap.route(ip->src, ip->dst);
        if (!route) return drop(DropReason::no_eroute);
        route->packets->add_owned();
        const Sa* head = snap.find(route->said);
        if (!head) return drop(DropReason::no_sa);
        // An eroute may name an inbound SA (eroute --add does not ask); nothing leaves through
        // one, as nothing arrives through an outbound one. So each SA is used by one lane only,
        // the one that writes its counters.
        if (head->config().dir != Direction::out) return drop(DropReason::no_sa, head);
        Chain chain;
        if (const SaGroup* group = snap.group_of(route->said)) {
            if (!group->complete()) return drop(DropReason::group_incomplete, head);
            std::size_t i = 0;
            while (group->saids[i] != route->said)
                ++i;
            for (; i < group->members.size(); ++i)
                chain.sa[chain.size++] = group->members[i].get();
        } else {
            chain.sa[chain.size++] = head;
        }
        memo = RouteMemo{snap.serial(), ip->src, ip->dst, route, chain};
    } else {
        memo.route->packets->add_owned();
    }
    const Chain& chain = memo.chain;

    const std::size_t clear_len = pkt.size();
    for (std::size_t i = 0; i < chain.size; ++i) {
        if (!life_admit(*chain.sa[i], clear_len, now_ns))
            return drop(DropReason::life_expired, chain.sa[i]);
    }
    for (std::size_t i = 0; i < chain.size; ++i) {
        const Sa& sa = *chain.sa[i];
        SaState* st = state_of(sa);
        if (!st) return drop(DropReason::no_sa, &sa);
        Outcome r;
        switch (sa.said().proto) {
            case SaProto::tun:
                r = tun_out(sa, pkt);
                break;
            case SaProto::esp:
                r = esp_out(sa, *st, pkt);
                break;
            case SaProto::ah:
                r = ah_out(sa, *st, pkt);
                break;
            case SaProto::comp:
                r = comp_out(sa, ipcomp_, pkt);
                break;
        }
        if (!r.ok) return drop(r.reason, &sa);
    }

    const Sa& outer_sa = *chain.sa[chain.size - 1];
    const auto outer = parse_ip(pkt.bytes());
    if (!outer) return drop(DropReason::malformed, &outer_sa);
    pkt.outer.src = outer->src;
    pkt.outer.dst = outer->dst;
    if (outer_sa.config().natt == NatEncap::nonesp && outer_sa.said().proto == SaProto::esp) {
        // RFC 3948 §2.1: the ESP header follows the UDP header; the outer IP header is the
        // kernel's to build.
        pkt.outer.kind = OuterKind::udp;
        pkt.outer.sport = outer_sa.config().natt_sport;
        pkt.outer.dport = outer_sa.config().natt_dport;
        pkt.pull_front(outer->header_len);
    } else {
        pkt.outer.kind = OuterKind::raw;
    }
    pkt.clear_len = clear_len;
    count_use(chain, clear_len, now_ns);
    status_.packets_out.add_owned();
    status_.esp_out.add_owned();
    return kOk;
}

// Inbound: outer header → SA by (destination, SPI, protocol) → it must be its group's
// outermost SA (or inside only absent IPCOMP layers) → each transform unwound inward, checking
// the next header names the next SA → counters on every SA of the group, absent IPCOMP layers
// included, so both ends count the same.
Outcome Processor::inbound(const SadbSnapshot& snap, Packet& pkt, int64_t now_ns) {
    bool fragment = false;
    auto ip = parse_ip(pkt.bytes(), &fragment);
    if (!ip) return drop(fragment ? DropReason::unsupported : DropReason::malformed);
    pkt.set_size(ip->total_len);
    status_.esp_in.add_owned();

    // The SA named by the IPsec header after the IP header (AH and IPCOMP may follow IPv6
    // extension headers; ESP is only taken right after the fixed header, where esp_in reads it).
    // Fills `out` field by field: a Said built and returned whole was read back across the
    // smaller stores that made it (see parse_ip).
    const auto said_of = [&](const IpView& v, Said& out) -> bool {
        const SlotFound f = find_ipsec_slot(pkt.bytes(), false);
        if (f.status != SlotStatus::ok) return false;
        const std::span<const uint8_t> body = pkt.bytes().subspan(f.slot.offset);
        switch (f.slot.next_header) {
            case kProtoEsp:
                if (f.slot.offset != v.header_len || body.size() < 4) return false;
                out.proto = SaProto::esp;
                out.spi = get_be32(body.data());
                break;
            case kProtoAh: {
                const AhParsed ah = parse_ah(pkt.bytes());
                if (ah.status != AhStatus::ok) return false;
                out.proto = SaProto::ah;
                out.spi = ah.ah.spi;
                break;
            }
            case kProtoIpcomp:
                if (body.size() < kIpcompHeaderBytes) return false;
                out.proto = SaProto::comp;
                out.spi = static_cast<uint32_t>(body[2] << 8 | body[3]);
                break;
            default:
                return false;
        }
        out.dst = v.dst;
        return true;
    };
    if (find_ipsec_slot(pkt.bytes(), false).status == SlotStatus::unsupported) {
        return drop(DropReason::unsupported);  // IPv6 fragments, like IPv4 ones
    }
    Said said;
    if (!said_of(*ip, said)) return drop(DropReason::malformed);
    SaMemo& memo = sa_memo_;
    if (memo.serial == 0 || memo.serial != snap.serial() || memo.said != said) {
        memo.serial = 0;
        const Sa* found = snap.find(said);
        if (!found || found->config().dir != Direction::in) return drop(DropReason::no_sa);
        Chain chain;
        std::size_t first = 0;
        if (const SaGroup* group = snap.group_of(said)) {
            if (!group->complete()) return drop(DropReason::group_incomplete, found);
            for (std::size_t i = group->members.size(); i-- > 0;) {
                chain.sa[chain.size++] = group->members[i].get();
            }
            // A packet must arrive wrapped in the group's outermost SA; anything less is
            // refused. Only IPCOMP layers may be missing: a datagram that does not shrink is
            // sent without one (RFC 3173 §2.2).
            while (chain.sa[first]->said() != said) {
                if (chain.sa[first]->said().proto != SaProto::comp) {
                    return drop(DropReason::group_incomplete, found);
                }
                ++first;
            }
        } else {
            chain.sa[chain.size++] = found;
        }
        memo = SaMemo{snap.serial(), said, found, chain, first, {}};
        for (std::size_t i = 0; i < chain.size; ++i) {
            if (chain.sa[i]->said().proto == SaProto::tun)
                memo.policy[i] = snap.policy_of(chain.sa[i]->said());
        }
    }
    const Sa* const sa = memo.sa;
    const Chain& chain = memo.chain;
    const std::size_t first = memo.first;
    const bool udp = pkt.outer.kind == OuterKind::udp;
    if (udp != (sa->config().natt == NatEncap::nonesp)) return drop(DropReason::encap_mismatch, sa);
    // Time and packet limits before the crypto; the byte limit once the clear length is known.
    for (std::size_t i = 0; i < chain.size; ++i) {
        if (!life_admit(*chain.sa[i], 0, now_ns))
            return drop(DropReason::life_expired, chain.sa[i]);
    }

    for (std::size_t i = first; i < chain.size; ++i) {
        const Sa& m = *chain.sa[i];
        SaState* st = state_of(m);
        if (!st) return drop(DropReason::no_sa, &m);
        if (i > first) {
            ip = parse_ip(pkt.bytes());
            if (!ip) return drop(DropReason::malformed, &m);
            // The IPCOMP layer is absent unless its header sits where the sender puts it
            // (ipcomp_compress): IPv6 fragments and what follows that spot are not looked into.
            if (m.said().proto == SaProto::comp) {
                const SlotFound at = find_ipsec_slot(pkt.bytes(), true);
                if (at.status == SlotStatus::unsupported ||
                    (at.status == SlotStatus::ok && at.slot.next_header != kProtoIpcomp)) {
                    continue;
                }
            }
            const auto proto = next_protocol(pkt.bytes());
            if (!proto) return drop(DropReason::malformed, &m);
            // An IPCOMP layer is absent when the sender found compression did not pay.
            if (m.said().proto == SaProto::comp && *proto != kProtoIpcomp) continue;
            // The next header must be this SA's: a packet that skips a layer of its group is
            // less protected than the group requires.
            const bool tunnel = *proto == kProtoIpip || *proto == kProtoIpv6;
            if (m.said().proto == SaProto::tun ? !tunnel
                                               : *proto != wire_protocol(m.said().proto)) {
                return drop(DropReason::group_incomplete, &m);
            }
            if (m.said().proto != SaProto::tun) {
                Said inner;
                if (!said_of(*ip, inner) || inner != m.said())
                    return drop(DropReason::group_incomplete, &m);
            }
        }
        Outcome r;
        switch (m.said().proto) {
            case SaProto::esp:
                r = esp_in(m, *st, pkt, *ip);
                break;
            case SaProto::tun:
                r = tun_in(m, memo.policy[i], pkt, *ip);
                break;
            case SaProto::ah:
                r = ah_in(m, *st, pkt);
                break;
            case SaProto::comp:
                r = comp_in(m, ipcomp_, pkt);
                break;
        }
        if (r.silent) return r;
        if (!r.ok) return drop(r.reason, &m);
    }
    if (!parse_ip(pkt.bytes())) return drop(DropReason::malformed, chain.sa[chain.size - 1]);
    for (std::size_t i = 0; i < chain.size; ++i) {
        if (!life_admit(*chain.sa[i], pkt.size(), now_ns))
            return drop(DropReason::life_expired, chain.sa[i]);
    }
    pkt.clear_len = pkt.size();
    count_use(chain, pkt.size(), now_ns);
    status_.packets_in.add_owned();
    return kOk;
}

}  // namespace ipsecfs::netpath
