#pragma once
// The transforms applied to one packet: outbound through the SA group an eroute names,
// inbound through the group of the SA the outer header names. Pure packet logic over a SADB
// snapshot: no I/O, so two processors can be tested back to back in memory.
//
// A group holds up to four SAs inner to outer in KLIPS order, tun, comp, esp, ah: outbound they
// apply in that order (IPIP header, then IPCOMP, ESP and AH each inserted right after it);
// inbound they come off in reverse, each next header checked against the next SA.

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/dataplane_status.hpp"
#include "core/drop_reason.hpp"
#include "core/sadb.hpp"
#include "netpath/ipcomp.hpp"
#include "netpath/packet.hpp"

namespace ipsecfs::netpath {

struct Outcome {
    bool ok = true;
    DropReason reason = DropReason::malformed;
    bool silent = false;  // discarded without it being an error (RFC 4303 §2.6 dummy packet)
};

class Processor {
  public:
    explicit Processor(DataplaneStatus& status) : status_(status) {}

    // pkt holds a clear IP packet read from the TUN device. On success it holds the protected
    // packet and pkt.outer says where it goes: raw (a full IP packet) or UDP (the ESP bytes).
    Outcome outbound(const SadbSnapshot& snap, Packet& pkt, int64_t now_ns);
    // pkt holds a full IP packet from the network (pkt.outer says how it came). On success it
    // holds the clear IP packet for the TUN device.
    Outcome inbound(const SadbSnapshot& snap, Packet& pkt, int64_t now_ns);

    // The members of a group a packet passes, in the order they were applied outbound.
    struct Chain {
        std::array<const Sa*, SaGroup::kMaxSize> sa{};
        std::size_t size = 0;
    };

  private:
    // The last lookup that succeeded, per direction: a stream's packets share their eroute or
    // SA, so the next one skips the hash tables. Valid for the snapshot it was made in (serial;
    // 0 is none), whose SAs and eroutes it points to.
    struct RouteMemo {
        uint64_t serial = 0;
        IpAddress src;
        IpAddress dst;
        const Eroute* route = nullptr;
        Chain chain;
    };
    struct SaMemo {
        uint64_t serial = 0;
        Said said;
        const Sa* sa = nullptr;
        Chain chain;            // outer to inner: every member of the group
        std::size_t first = 0;  // the member the packet's outer IPsec header names
        std::array<const InboundPolicy*, SaGroup::kMaxSize> policy{};  // of each tun member
    };

    Outcome drop(DropReason r, const Sa* sa = nullptr);

    DataplaneStatus& status_;
    // The worker's one deflate and inflate stream, shared by all its IPCOMP SAs.
    IpcompCodec ipcomp_;
    RouteMemo route_memo_;
    SaMemo sa_memo_;
};

}  // namespace ipsecfs::netpath
