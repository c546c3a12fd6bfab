// Processor::outbound on anything read from the TUN device, then the round trip: whatever the
// sender of fuzz_rig.hpp protects, its receiver must open to the same packet (tunnel flows: the
// same bytes; transport flows: the same addresses, protocol and payload, since the IP header is
// rewritten on the way). Input: the clear IP packet. Seeds: one clear packet per flow.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/drop_reason.hpp"
#include "netpath/ah_packet.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/processor.hpp"
#include "tests/fuzz/fuzz_rig.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

struct Gateway {
    explicit Gateway(bool sender) : sadb(fuzz::make_gateway(sender)) {}
    std::unique_ptr<Sadb> sadb;
    DataplaneStatus status;
    Processor processor{status};
};

// What the kernel does between the gateways to a UDP-encapsulated packet: our transport hands
// it over with a rebuilt outer header.
void wire(Packet& p) {
    if (p.outer.kind != OuterKind::udp) return;
    const std::size_t len = p.size();
    p.push_front(p.outer.dst.is_v4() ? kIpv4HeaderBytes : kIpv6HeaderBytes);
    write_ip_header(p.data(), p.outer.src, p.outer.dst, kProtoEsp, len, 0);
}

bool is_gateway(const IpAddress& a) {
    const std::string s = a.str();
    return s.starts_with("192.0.2.") || s.starts_with("2001:db8::");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    // Sequence numbers only grow, so a receiver kept across inputs never sees a replay.
    static Gateway sender(true), receiver(false);
    static auto packet = std::make_unique<Packet>();
    if (size > Packet::kMaxData) return 0;

    Packet& p = *packet;
    auto area = p.reset();
    std::memcpy(area.data(), data, size);
    p.set_size(size);
    p.outer = OuterInfo{};
    const auto clear = parse_ip({data, size});
    const auto sender_snap = sender.sadb->snapshot();
    if (!sender.processor.outbound(*sender_snap, p, 5'000'000'000).ok) return 0;
    if (!clear) __builtin_trap();  // protected something that is not an IP packet
    if (p.size() > Packet::kMaxData) __builtin_trap();

    wire(p);
    // Bare IPIP (a tun SA alone, or tun+comp when compression did not pay) carries no header
    // an SA names; the peer's engine never sees it (test_processor_groups.cpp).
    const auto outer = parse_ip(p.bytes());
    if (!outer) __builtin_trap();
    if (outer->protocol == kProtoIpip || outer->protocol == kProtoIpv6) return 0;
    // A transport packet that already carries an IPCOMP header, sent uncompressed by a group
    // with IPCOMP (RFC 3173 §2.2), looks to the receiver like that group's IPCOMP layer with a
    // foreign CPI (group_incomplete): the RFC's header-less fallback is ambiguous there.
    const SlotFound clear_slot = find_ipsec_slot({data, clear->total_len}, false);
    if (clear_slot.status == SlotStatus::ok && clear_slot.slot.next_header == kProtoIpcomp) {
        return 0;
    }
    const auto receiver_snap = receiver.sadb->snapshot();
    const Outcome r = receiver.processor.inbound(*receiver_snap, p, 6'000'000'000);
    // RFC 4303 §2.6: next header 59 is a dummy packet, dropped silently by the receiver.
    if (r.silent && clear->protocol == kNextHeaderNone) return 0;
    if (!r.ok) {
        std::fprintf(stderr, "the receiver refused what the sender sent: %s\n",
                     std::string(drop_reason_name(r.reason)).c_str());
        __builtin_trap();
    }

    const std::vector<uint8_t> sent(data, data + clear->total_len);
    const std::vector<uint8_t> got(p.data(), p.data() + p.size());
    if (!is_gateway(clear->dst)) {
        if (sent != got) __builtin_trap();
        return 0;
    }
    const auto opened = parse_ip(p.bytes());
    if (!opened || opened->src != clear->src || opened->dst != clear->dst ||
        opened->protocol != clear->protocol) {
        __builtin_trap();
    }
    if (!std::equal(sent.begin() + static_cast<std::ptrdiff_t>(clear->header_len), sent.end(),
                    got.begin() + static_cast<std::ptrdiff_t>(opened->header_len), got.end())) {
        __builtin_trap();
    }
    return 0;
}
