// Userspace GRO as the TUN write path runs it (netpath/tcp_coalesce, then netpath/udp_coalesce)
// on batches of decrypted packets, whose bytes an authenticated peer chooses. Every packet is
// written unchanged or merged; a merged one is a TCP or UDP super-packet the kernel takes (length
// within its 16-bit field, headers and partial checksum as the vnet header says), and cutting it
// again with gso_split() gives back the packets merged into it, in order: byte for byte, except
// that segment i carries the head's IPv4 identification + i (IDs are not compared when merging
// with DF), for TCP the head's urgent pointer (URG is never set), and that a TCP checksum of
// 0xffff may come back as 0 (both verify). Nothing of a flow is written between the head of a
// run and the last packet merged into it.
//
// Input: up to kMaxPackets records of [room][length, 2 bytes big-endian][bytes]. room < 0x80
// gives 256 - room bytes of headroom; room >= 0x80 leaves only (room & 0x7f) * 24 bytes of
// tailroom, which limits what can be appended to a head. Seeds: make_seeds.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netpath/byte_order.hpp"
#include "netpath/gso_split.hpp"
#include "netpath/packet.hpp"
#include "netpath/tcp_coalesce.hpp"
#include "netpath/udp_coalesce.hpp"
#include "netpath/vnet_header.hpp"
#include "tests/support/reference_checksum.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;
using ipsecfs::testing::fold;
using ipsecfs::testing::sum16;

// A few more than a batch, so that open runs get evicted too.
constexpr std::size_t kMaxPackets = kBatchSize + 8;
constexpr uint8_t kTcpPsh = 0x08;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_coalesce: %s\n", what);
    __builtin_trap();
}

bool v4(std::span<const uint8_t> b) {
    return (b[0] >> 4) == 4;
}

std::size_t ip_len_of(std::span<const uint8_t> b) {
    return v4(b) ? (b[0] & 0x0fu) * 4u : 40;
}

bool ipv4_header_ok(std::span<const uint8_t> b) {
    return fold(sum16(b.data(), ip_len_of(b))) == 0xffff;
}

bool l4_checksum_ok(std::span<const uint8_t> b, uint8_t proto) {
    const std::size_t ip = ip_len_of(b), l4 = b.size() - ip;
    uint64_t sum = v4(b) ? sum16(b.data() + 12, 8) : sum16(b.data() + 8, 32);
    sum += proto + (l4 >> 16) + (l4 & 0xffff);
    return fold(sum16(b.data() + ip, l4, sum)) == 0xffff;
}

bool tcp_checksum_ok(std::span<const uint8_t> b) {
    return l4_checksum_ok(b, 6);
}

// Protocol, addresses and ports of a packet a coalescer files under a flow (its `keyed`), else
// nullopt.
std::optional<std::string> flow_key(std::span<const uint8_t> b) {
    if (b.empty()) return std::nullopt;
    if (v4(b)) {
        if (b.size() < 20 || (b[9] != 6 && b[9] != 17) || (b[0] & 0x0f) < 5 ||
            (get_be16(&b[6]) & 0x1fff) != 0)
            return std::nullopt;
        const std::size_t ip = ip_len_of(b);
        if (b.size() < ip + 4) return std::nullopt;
        std::string key = b[9] == 6 ? "4t" : "4u";
        key.append(b.begin() + 12, b.begin() + 20);
        key.append(b.begin() + static_cast<std::ptrdiff_t>(ip),
                   b.begin() + static_cast<std::ptrdiff_t>(ip + 4));
        return key;
    }
    if ((b[0] >> 4) != 6 || b.size() < 44 || (b[6] != 6 && b[6] != 17)) return std::nullopt;
    std::string key = b[6] == 6 ? "6t" : "6u";
    key.append(b.begin() + 8, b.begin() + 44);
    return key;
}

// Whether segment k of a super-packet is the packet `original` that was merged into it, but for
// the IPv4 identification and header checksum, the urgent pointer and the TCP checksum (which
// the caller checks on the segment itself).
bool same_segment(std::span<const uint8_t> seg, const Bytes& original) {
    if (seg.size() != original.size()) return false;
    const std::size_t ip = ip_len_of(seg);
    for (std::size_t i = 0; i < seg.size(); ++i) {
        const bool masked = (v4(seg) && ((i >= 4 && i < 6) || (i >= 10 && i < 12))) ||
                            (i >= ip + 16 && i < ip + 20);
        if (!masked && seg[i] != original[i]) return false;
    }
    return true;
}

bool is_zero(const VnetHeader& v) {
    return v.flags == 0 && v.gso_type == 0 && v.hdr_len == 0 && v.gso_size == 0 &&
           v.csum_start == 0 && v.csum_offset == 0;
}

// Whether datagram k of a UDP super-packet is `original`, but for the IPv4 identification and
// header checksum and the UDP checksum (which the caller checks on the datagram itself).
bool same_datagram(std::span<const uint8_t> seg, const Bytes& original) {
    if (seg.size() != original.size()) return false;
    const std::size_t ip = ip_len_of(seg);
    for (std::size_t i = 0; i < seg.size(); ++i) {
        const bool masked =
            (v4(seg) && ((i >= 4 && i < 6) || (i >= 10 && i < 12))) || (i >= ip + 6 && i < ip + 8);
        if (!masked && seg[i] != original[i]) return false;
    }
    return true;
}

// check_merged() for a USO super-packet.
std::size_t check_merged_udp(const TunWrite& w, std::size_t head,
                             const std::vector<Bytes>& originals, std::vector<bool>& claimed,
                             std::span<Packet* const> cut) {
    const VnetHeader& v = w.vnet;
    const std::span<const uint8_t> sp = w.packet->bytes();
    const Bytes& first = originals[head];
    require(v.flags == VnetHeader::kNeedsCsum, "a UDP super-packet without NEEDS_CSUM");
    require(sp.size() > first.size(), "a UDP super-packet no longer than its head");
    const bool is_v4 = v4(sp);
    require(v4(first) == is_v4, "a UDP super-packet of another IP version than its head");
    const std::size_t ip = ip_len_of(sp);
    require(ip == (is_v4 ? 20u : 40u), "a UDP super-packet with IP options");
    require(sp.size() <= 65535u, "a UDP super-packet over 64 KB");
    require(first.size() > ip + 8, "a UDP super-packet whose head has no payload");
    require(v.gso_size == first.size() - ip - 8, "gso_size is not the head's payload size");
    require(v.hdr_len == ip + 8 && v.csum_start == ip && v.csum_offset == 6,
            "hdr_len/csum_start/csum_offset not UDP's");
    require(get_be16(&sp[ip + 4]) + ip == sp.size(), "UDP length is not the super-packet's");
    if (is_v4) {
        require(get_be16(&sp[2]) == sp.size(), "IPv4 total length is not the super-packet's");
        require(ipv4_header_ok(sp), "IPv4 header checksum of a UDP super-packet");
    } else {
        require(get_be16(&sp[4]) + 40u == sp.size(), "IPv6 payload length of a UDP super-packet");
    }
    for (std::size_t i = 0; i < ip + 8; ++i) {
        const bool rewritten =
            (is_v4 ? (i >= 2 && i < 4) || (i >= 10 && i < 12) : i >= 4 && i < 6) ||
            (i >= ip + 4 && i < ip + 8);
        if (!rewritten) require(sp[i] == first[i], "a UDP super-packet's header differs");
    }
    Bytes done(sp.begin(), sp.end());
    require(complete_checksum(v, done) && l4_checksum_ok(done, 17),
            "the partial UDP checksum does not complete to a valid one");

    const std::size_t needed = gso_segments_needed(v, sp);
    require(needed >= 2 && needed <= kMaxUdpSegments, "a UDP super-packet of an odd count");
    const SplitResult r = gso_split(v, sp, cut);
    require(r.status == SplitStatus::ok && r.count == needed, "gso_split refuses a UDP one");
    const bool df = is_v4 && (first[6] & 0x40) != 0;
    std::size_t last = head;
    for (std::size_t k = 0; k < r.count; ++k) {
        const std::span<const uint8_t> seg = cut[k]->bytes();
        require(l4_checksum_ok(seg, 17) && get_be16(&seg[ip + 6]) != 0,
                "UDP checksum of a datagram");
        std::size_t j = head;
        if (k > 0) {
            j = last + 1;
            while (j < originals.size() && (claimed[j] || !same_datagram(seg, originals[j])))
                ++j;
            require(j < originals.size(), "a datagram that is none of the merged packets");
            claimed[j] = true;
        }
        require(same_datagram(seg, originals[j]), "the first datagram is not the head");
        // A merged datagram's own checksum verified and was not 0, so it comes back the same.
        require(get_be16(&seg[ip + 6]) == get_be16(&originals[j][ip + 6]),
                "a datagram's checksum changed");
        if (is_v4 && !df)
            require(get_be16(&seg[4]) == get_be16(&originals[j][4]), "an ID changed without DF");
        last = j;
    }
    return last;
}

// Checks one super-packet (the head originals[head]) and claims the inputs merged into it;
// returns the index of the last of them.
std::size_t check_merged(const TunWrite& w, std::size_t head, const std::vector<Bytes>& originals,
                         std::vector<bool>& claimed, std::span<Packet* const> cut) {
    const VnetHeader& v = w.vnet;
    const std::span<const uint8_t> sp = w.packet->bytes();
    const Bytes& first = originals[head];
    if (v.gso_type == VnetHeader::kGsoUdpL4)
        return check_merged_udp(w, head, originals, claimed, cut);
    require(v.gso_type == VnetHeader::kGsoTcpV4 || v.gso_type == VnetHeader::kGsoTcpV6,
            "a vnet header that is neither zero nor TCPV4/TCPV6/UDP_L4");
    require(v.flags == VnetHeader::kNeedsCsum, "a super-packet without NEEDS_CSUM");
    require(sp.size() > first.size(), "a super-packet no longer than its head");
    const bool is_v4 = v.gso_type == VnetHeader::kGsoTcpV4;
    require(v4(sp) == is_v4 && v4(first) == is_v4, "gso_type and IP version disagree");
    const std::size_t ip = ip_len_of(sp);
    require(ip == (is_v4 ? 20u : 40u), "a super-packet with IP options");
    require(sp.size() >= ip + 20, "a super-packet shorter than its headers");
    const std::size_t tcp = (sp[ip + 12] >> 4) * 4u;
    require(tcp >= 20 && first.size() > ip + tcp, "a super-packet whose head has no payload");
    require(sp.size() <= (is_v4 ? 65535u : 65535u + 40u), "a super-packet over its length field");
    require(v.gso_size > 0 && v.gso_size == first.size() - ip - tcp,
            "gso_size is not the head's payload size");
    require(v.hdr_len == ip + tcp, "hdr_len is not the IP and TCP header length");
    require(v.csum_start == ip && v.csum_offset == 16, "csum_start/offset not TCP's checksum");
    require(std::size_t{v.csum_start} + v.csum_offset + 2 <= sp.size(), "checksum field outside");
    if (is_v4) {
        require(get_be16(&sp[2]) == sp.size(), "IPv4 total length is not the super-packet's");
        require(ipv4_header_ok(sp), "IPv4 header checksum of a super-packet");
    } else {
        require(get_be16(&sp[4]) + 40u == sp.size(),
                "IPv6 payload length is not the super-packet's");
    }
    // Headers as the head's (PSH may be added), then the head's payload.
    for (std::size_t i = 0; i < ip + tcp; ++i) {
        const bool length_or_checksum =
            is_v4 ? (i >= 2 && i < 4) || (i >= 10 && i < 12) : (i >= 4 && i < 6);
        if (length_or_checksum || (i >= ip + 16 && i < ip + 18)) continue;
        if (i == ip + 13) {
            require((sp[i] & ~kTcpPsh) == (first[i] & ~kTcpPsh), "TCP flags of a super-packet");
        } else {
            require(sp[i] == first[i], "a super-packet's header differs from its head's");
        }
    }
    require(std::equal(first.begin() + static_cast<std::ptrdiff_t>(ip + tcp), first.end(),
                       sp.begin() + static_cast<std::ptrdiff_t>(ip + tcp)),
            "a super-packet does not start with its head's payload");

    // CHECKSUM_PARTIAL: finishing the sum from csum_start gives a valid TCP checksum.
    Bytes done(sp.begin(), sp.end());
    require(complete_checksum(v, done) && tcp_checksum_ok(done),
            "the partial checksum does not complete to a valid one");

    const std::size_t needed = gso_segments_needed(v, sp);
    require(needed >= 2 && needed <= originals.size(), "a super-packet of an odd segment count");
    const SplitResult r = gso_split(v, sp, cut);
    require(r.status == SplitStatus::ok && r.count == needed, "gso_split refuses a super-packet");

    Bytes payload;
    const uint16_t id0 = is_v4 ? get_be16(&first[4]) : 0;
    std::size_t last = head;
    for (std::size_t k = 0; k < r.count; ++k) {
        const std::span<const uint8_t> seg = cut[k]->bytes();
        require(seg.size() >= ip + tcp, "a segment shorter than its headers");
        if (is_v4) {
            require(ipv4_header_ok(seg), "IPv4 header checksum of a segment");
            require(get_be16(&seg[4]) == static_cast<uint16_t>(id0 + k), "IPv4 ID of a segment");
        }
        require(tcp_checksum_ok(seg), "TCP checksum of a segment");
        require(get_be16(&seg[ip + 18]) == get_be16(&first[ip + 18]),
                "urgent pointer of a segment");
        payload.insert(payload.end(), seg.begin() + static_cast<std::ptrdiff_t>(ip + tcp),
                       seg.end());
        if (k == 0) {
            require(same_segment(seg, first), "the first segment is not the head");
            continue;
        }
        // The earliest unclaimed packet after the previous one that this segment is; inputs
        // merged into one run come in order and runs of one flow never overlap, so this finds
        // the very packet (or one identical to it).
        std::size_t j = last + 1;
        while (j < originals.size() && (claimed[j] || !same_segment(seg, originals[j])))
            ++j;
        require(j < originals.size(), "a segment that is none of the merged packets");
        claimed[j] = true;
        last = j;
    }
    require(std::equal(payload.begin(), payload.end(),
                       sp.begin() + static_cast<std::ptrdiff_t>(ip + tcp), sp.end()) &&
                payload.size() == sp.size() - ip - tcp,
            "the segments' payloads are not the super-packet's");
    require(get_be32(&cut[0]->bytes()[ip + 4]) == get_be32(&sp[ip + 4]),
            "sequence of the first segment");
    return last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static PacketPool pool(kMaxPackets);
    static PacketPool cut(kMaxPackets);
    static std::vector<TunWrite> out;
    std::vector<Bytes> originals;
    std::vector<std::size_t> offsets;
    std::vector<Packet*> batch;
    std::size_t at = 0;
    while (batch.size() < kMaxPackets && at + 3 <= size) {
        const unsigned room = data[at];
        const std::size_t len = std::min(
            {std::size_t{data[at + 1]} << 8 | data[at + 2], size - at - 3, Packet::kMaxData});
        at += 3;
        std::size_t offset = Packet::kHeadroom - (room & 0x7fu);
        if (room & 0x80u) {
            const std::size_t tail =
                std::min<std::size_t>((room & 0x7fu) * 24u, Packet::kCapacity - len - 16);
            offset = Packet::kCapacity - len - tail;
        }
        Packet* p = pool.all()[batch.size()];
        p->set_view(offset, len);
        std::memcpy(p->data(), data + at, len);
        at += len;
        originals.emplace_back(p->data(), p->data() + len);
        offsets.push_back(offset);
        batch.push_back(p);
    }

    coalesce_tcp(batch, out);
    coalesce_udp(out);

    std::vector<bool> claimed(batch.size(), false);
    std::vector<std::size_t> index(out.size());
    for (std::size_t i = 0; i < batch.size(); ++i)
        require(batch[i]->offset() == offsets[i], "a packet moved in its buffer");
    for (std::size_t o = 0; o < out.size(); ++o) {
        const auto found = std::find(batch.begin(), batch.end(), out[o].packet);
        require(found != batch.end(), "an output packet that is not an input");
        index[o] = static_cast<std::size_t>(found - batch.begin());
        require(o == 0 || index[o] > index[o - 1], "outputs out of input order (or twice)");
        claimed[index[o]] = true;
    }
    for (std::size_t o = 0; o < out.size(); ++o) {
        const TunWrite& w = out[o];
        const Bytes& original = originals[index[o]];
        if (is_zero(w.vnet)) {
            require(std::equal(original.begin(), original.end(), w.packet->bytes().begin(),
                               w.packet->bytes().end()),
                    "an unmerged packet changed");
            continue;
        }
        const std::size_t last = check_merged(w, index[o], originals, claimed, cut.all());
        const auto key = flow_key(original);
        require(key.has_value(), "a super-packet of no flow");
        for (std::size_t q = o + 1; q < out.size() && index[q] < last; ++q) {
            require(flow_key(originals[index[q]]) != key,
                    "a packet of the flow written between the packets of a super-packet");
        }
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
        require(claimed[i], "an input packet neither written nor merged");
    return 0;
}
