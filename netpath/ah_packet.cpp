#include "netpath/ah_packet.hpp"
#include "netpath/byte_order.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "netpath/crypto/secure_key.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestOpts = 60;

constexpr std::size_t kMaxIcvBytes = 32;

// The bytes the ICV covers, fed to the HMAC in a few large updates: header bytes (some of them
// replaced by zeros) gather in a small buffer, the payload goes straight from the packet.
class IcvInput {
  public:
    explicit IcvInput(crypto::Hmac& mac) : mac_(mac) {}

    void put(std::span<const uint8_t> s) {
        while (!s.empty()) {
            const std::size_t n = std::min(s.size(), buf_.size() - used_);
            std::memcpy(buf_.data() + used_, s.data(), n);
            used_ += n;
            s = s.subspan(n);
            if (used_ == buf_.size()) flush();
        }
    }
    void put(uint8_t b) { put(std::span<const uint8_t>(&b, 1)); }
    void zeros(std::size_t n) {
        while (n > 0) {
            const std::size_t k = std::min(n, buf_.size() - used_);
            std::memset(buf_.data() + used_, 0, k);
            used_ += k;
            n -= k;
            if (used_ == buf_.size()) flush();
        }
    }
    void direct(std::span<const uint8_t> s) {
        flush();
        ok_ = mac_.update(s) && ok_;
    }
    bool finish(std::span<uint8_t> icv) {
        flush();
        return mac_.final(icv) && ok_;
    }

  private:
    void flush() {
        if (used_ == 0) return;
        ok_ = mac_.update({buf_.data(), used_}) && ok_;
        used_ = 0;
    }

    crypto::Hmac& mac_;
    std::array<uint8_t, 256> buf_{};
    std::size_t used_ = 0;
    bool ok_ = true;
};

// RFC 4302 Appendix A.1: the IPv4 options that are immutable in transit (whole type octets,
// copy flag included). Every other option is zeroed whole, type and length too (§3.3.3.1.1.2):
// some are mutable (record route, timestamp) and options we do not know may be.
bool ipv4_option_immutable(uint8_t type) {
    switch (type) {
        case 0:    // end of option list
        case 1:    // no operation
        case 130:  // security (RFC 1108)
        case 133:  // extended security
        case 134:  // commercial security
        case 148:  // router alert (RFC 2113)
        case 149:  // sender directed multi-destination delivery
            return true;
        default:
            return false;
    }
}

// Loose and strict source routes make the destination address "mutable but predictable"
// (§3.3.3.1.1.1): the ICV would need the final destination. We do not predict it and refuse them.
bool ipv4_source_route(uint8_t type) {
    return type == 131 || type == 137;
}

AhStatus feed_ipv4_header(IcvInput& in, std::span<const uint8_t> pkt, std::size_t ihl) {
    // §3.3.3.1.1.1: TOS, flags + fragment offset, TTL and the header checksum are mutable.
    in.put(pkt[0]);
    in.zeros(1);                 // TOS (DSCP/ECN)
    in.put(pkt.subspan(2, 4));   // total length, identification
    in.zeros(2);                 // flags, fragment offset
    in.zeros(1);                 // TTL
    in.put(pkt[9]);              // protocol
    in.zeros(2);                 // header checksum
    in.put(pkt.subspan(12, 8));  // addresses
    std::size_t i = kIpv4HeaderBytes;
    while (i < ihl) {
        const uint8_t type = pkt[i];
        if (type == 0) {  // end of list: the rest is padding, sent as is
            in.put(pkt.subspan(i, ihl - i));
            break;
        }
        if (type == 1) {
            in.put(type);
            ++i;
            continue;
        }
        if (i + 1 >= ihl) return AhStatus::malformed;
        const std::size_t len = pkt[i + 1];
        if (len < 2 || i + len > ihl) return AhStatus::malformed;
        if (ipv4_source_route(type)) return AhStatus::unsupported;
        if (ipv4_option_immutable(type)) {
            in.put(pkt.subspan(i, len));
        } else {
            in.zeros(len);
        }
        i += len;
    }
    return AhStatus::ok;
}

// §3.3.3.1.2.2 and RFC 8200 §4.2: the third-highest bit of an option type says its data may
// change en route; such data counts as zeros, type and length stay.
AhStatus feed_ipv6_options(IcvInput& in, std::span<const uint8_t> ext) {
    in.put(ext.first(2));
    std::size_t i = 2;
    while (i < ext.size()) {
        const uint8_t type = ext[i];
        if (type == 0) {  // Pad1
            in.put(type);
            ++i;
            continue;
        }
        if (i + 1 >= ext.size()) return AhStatus::malformed;
        const std::size_t len = ext[i + 1];
        if (i + 2 + len > ext.size()) return AhStatus::malformed;
        in.put(ext.subspan(i, 2));
        if (type & 0x20) {
            in.zeros(len);
        } else {
            in.put(ext.subspan(i + 2, len));
        }
        i += 2 + len;
    }
    return AhStatus::ok;
}

AhStatus feed_ipv6_header(IcvInput& in, std::span<const uint8_t> pkt, std::size_t end,
                          bool sending) {
    // §3.3.3.1.2.1: traffic class, flow label and hop limit are mutable.
    in.put(static_cast<uint8_t>(pkt[0] & 0xf0));
    in.zeros(3);
    in.put(pkt.subspan(4, 3));  // payload length, next header
    in.zeros(1);                // hop limit
    in.put(pkt.subspan(8, 32));
    uint8_t nh = pkt[6];
    std::size_t pos = kIpv6HeaderBytes;
    while (pos < end) {
        const std::size_t len = (static_cast<std::size_t>(pkt[pos + 1]) + 1) * 8;
        const auto ext = pkt.subspan(pos, len);
        if (nh == kIpv6HopByHop || nh == kIpv6DestOpts) {
            if (auto r = feed_ipv6_options(in, ext); r != AhStatus::ok) return r;
        } else {
            // Routing: at the receiver it reads as it arrives. A sender would have to reorder
            // the addresses to how they arrive (§3.3.3.1.2.3); we only send those already done.
            if (sending && ext[3] != 0) return AhStatus::unsupported;
            in.put(ext);
        }
        nh = pkt[pos];
        pos += len;
    }
    return AhStatus::ok;
}

// RFC 4302 §3.3.3: the whole IP packet with mutable fields and the ICV zeroed, then (ESN) the
// high half of the sequence number, appended for the computation only (§2.5.1, §3.3.3.2.2).
AhStatus compute_icv(crypto::Hmac& mac, std::span<const uint8_t> pkt, const AhView& ah,
                     std::size_t icv_len, uint64_t seq, bool esn, bool sending,
                     std::span<uint8_t> icv_out) {
    if (!mac.reset()) return AhStatus::crypto_failed;
    IcvInput in(mac);
    const IpSlot& s = ah.slot;
    const AhStatus hs = s.family == Family::v4 ? feed_ipv4_header(in, pkt, s.ip_header_len)
                                               : feed_ipv6_header(in, pkt, s.offset, sending);
    if (hs != AhStatus::ok) return hs;
    const std::size_t off = s.offset;
    in.put(pkt.subspan(off, kAhFixedBytes));
    in.zeros(icv_len);
    // §3.3.3.2.1: explicit ICV padding is covered as sent.
    in.put(pkt.subspan(off + kAhFixedBytes + icv_len, ah.length - kAhFixedBytes - icv_len));
    in.direct(pkt.subspan(off + ah.length));
    if (esn) {
        std::array<uint8_t, 4> hi{};
        put_be32(hi.data(), static_cast<uint32_t>(seq >> 32));
        in.put(hi);
    }
    return in.finish(icv_out) ? AhStatus::ok : AhStatus::crypto_failed;
}

}  // namespace

SlotFound find_ipsec_slot(std::span<const uint8_t> pkt, bool outbound) {
    const SlotFound bad{SlotStatus::malformed, {}};
    if (pkt.empty()) return bad;
    const unsigned version = pkt[0] >> 4;
    if (version == 4) {
        if (pkt.size() < kIpv4HeaderBytes) return bad;
        const std::size_t ihl = (pkt[0] & 0x0fu) * 4u;
        if (ihl < kIpv4HeaderBytes || ihl > pkt.size()) return bad;
        return {SlotStatus::ok, {Family::v4, ihl, ihl, 9, pkt[9]}};
    }
    if (version != 6 || pkt.size() < kIpv6HeaderBytes) return bad;
    uint8_t nh = pkt[6];
    std::size_t nh_offset = 6;
    std::size_t pos = kIpv6HeaderBytes;
    bool routing_seen = false;
    for (;;) {
        if (nh == kIpv6Fragment) return {SlotStatus::unsupported, {}};
        if (nh != kIpv6HopByHop && nh != kIpv6Routing && nh != kIpv6DestOpts) break;
        // Destination options after a routing header are for the final destination only and
        // follow AH/IPCOMP (RFC 4302 §3.1.1).
        if (outbound && nh == kIpv6DestOpts && routing_seen) break;
        if (pos + 8 > pkt.size()) return bad;
        const std::size_t len = (static_cast<std::size_t>(pkt[pos + 1]) + 1) * 8;
        if (pos + len > pkt.size()) return bad;
        routing_seen = routing_seen || nh == kIpv6Routing;
        nh_offset = pos;
        nh = pkt[pos];
        pos += len;
    }
    return {SlotStatus::ok, {Family::v6, kIpv6HeaderBytes, pos, nh_offset, nh}};
}

void set_slot_next_header(std::span<uint8_t> pkt, const IpSlot& slot, uint8_t next_header,
                          std::size_t total_len) {
    pkt[slot.nh_offset] = next_header;
    if (slot.family == Family::v4) {
        put_be16(&pkt[2], total_len);
        pkt[10] = pkt[11] = 0;
        put_be16(&pkt[10], ipv4_checksum(pkt.first(slot.ip_header_len)));
    } else {
        put_be16(&pkt[4], total_len - kIpv6HeaderBytes);
    }
}

std::size_t ah_header_bytes(std::size_t icv_bytes, Family f) {
    const std::size_t align = f == Family::v4 ? 4 : 8;
    return (kAhFixedBytes + icv_bytes + align - 1) / align * align;
}

AhParsed parse_ah(std::span<const uint8_t> pkt) {
    const SlotFound found = find_ipsec_slot(pkt, false);
    if (found.status != SlotStatus::ok) {
        return {
            found.status == SlotStatus::unsupported ? AhStatus::unsupported : AhStatus::malformed,
            {}};
    }
    const IpSlot& s = found.slot;
    if (s.next_header != kProtoAh || s.offset + kAhFixedBytes > pkt.size()) {
        return {AhStatus::malformed, {}};
    }
    const uint8_t* ah = pkt.data() + s.offset;
    const std::size_t len = (static_cast<std::size_t>(ah[1]) + 2) * 4;
    if (len < kAhFixedBytes || s.offset + len > pkt.size()) return {AhStatus::malformed, {}};
    return {AhStatus::ok, {s, len, ah[0], get_be32(ah + 4), get_be32(ah + 8)}};
}

AhStatus ah_seal(crypto::Hmac& mac, Packet& pkt, uint32_t spi, uint64_t seq, bool esn) {
    const SlotFound found = find_ipsec_slot(pkt.bytes(), true);
    if (found.status != SlotStatus::ok) {
        return found.status == SlotStatus::unsupported ? AhStatus::unsupported
                                                       : AhStatus::malformed;
    }
    const IpSlot& s = found.slot;
    const std::size_t icv_len = mac.icv_bytes();
    const std::size_t len = ah_header_bytes(icv_len, s.family);
    if (pkt.headroom() < len || pkt.size() + len > Packet::kMaxData) return AhStatus::too_big;

    pkt.push_front(len);
    std::memmove(pkt.data(), pkt.data() + len, s.offset);
    uint8_t* ah = pkt.data() + s.offset;
    ah[0] = s.next_header;
    ah[1] = static_cast<uint8_t>(len / 4 - 2);
    ah[2] = ah[3] = 0;
    put_be32(ah + 4, spi);
    put_be32(ah + 8, static_cast<uint32_t>(seq));
    std::memset(ah + kAhFixedBytes, 0, len - kAhFixedBytes);
    set_slot_next_header(pkt.bytes(), s, kProtoAh, pkt.size());

    const AhView view{s, len, s.next_header, spi, static_cast<uint32_t>(seq)};
    return compute_icv(mac, pkt.bytes(), view, icv_len, seq, esn, true,
                       {ah + kAhFixedBytes, icv_len});
}

AhStatus ah_verify(crypto::Hmac& mac, std::span<const uint8_t> pkt, const AhView& ah, uint64_t seq,
                   bool esn) {
    const std::size_t icv_len = mac.icv_bytes();
    if (icv_len > kMaxIcvBytes || ah.length < kAhFixedBytes + icv_len) return AhStatus::malformed;
    std::array<uint8_t, kMaxIcvBytes> expected{};
    const auto mine = std::span(expected).first(icv_len);
    if (auto r = compute_icv(mac, pkt, ah, icv_len, seq, esn, false, mine); r != AhStatus::ok) {
        return r;
    }
    const auto theirs = pkt.subspan(ah.slot.offset + kAhFixedBytes, icv_len);
    return crypto::ct_equal(mine, theirs) ? AhStatus::ok : AhStatus::auth_failed;
}

void ah_remove(Packet& pkt, const AhView& ah) {
    std::memmove(pkt.data() + ah.length, pkt.data(), ah.slot.offset);
    pkt.pull_front(ah.length);
    set_slot_next_header(pkt.bytes(), ah.slot, ah.next_header, pkt.size());
}

}  // namespace ipsecfs::netpath
