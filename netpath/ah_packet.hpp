#pragma once
// The AH wire format (RFC 4302 §2), independent of sockets:
//
//   Next Header (1) | Payload Len (1) | Reserved (2) | SPI (4) | Sequence Number (4) | ICV | pad
//
// Payload Len is the AH length in 4-octet units minus 2 (§2.2); the ICV field is padded to a
// multiple of 4 octets (IPv4) or 8 octets (IPv6) (§2.6, §3.3.3.2.1). AH goes right after the IP
// header (transport style; in a tun group the tun SA made that header, as KLIPS did).
//
// The engine calls parse_ah → SA lookup → replay pre-check → ah_verify → replay commit →
// ah_remove. Nothing here allocates.

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.hpp"
#include "netpath/crypto/hmac.hpp"
#include "netpath/packet.hpp"

namespace ipsecfs::netpath {

inline constexpr std::size_t kAhFixedBytes = 12;

// Where an IPsec header (AH or IPCOMP) sits in an IP packet: after the IPv4 header with its
// options, or after the IPv6 header and the extension headers that come before it. Outbound
// (RFC 4302 §3.1.1, RFC 3173 §3, RFC 8200 §4.1) it goes after hop-by-hop, routing, and
// destination options followed by a routing header, as Linux and scapy place it; inbound the
// walk passes every hop-by-hop, routing and destination options header.
struct IpSlot {
    Family family;
    std::size_t ip_header_len;  // 20..60 (IPv4) or 40 (IPv6)
    std::size_t offset;         // of the IPsec header (inbound) or where it goes (outbound)
    std::size_t nh_offset;      // of the byte that names the header at `offset`
    uint8_t next_header;        // that byte's value
};

enum class SlotStatus : uint8_t { ok, malformed, unsupported };

struct SlotFound {
    SlotStatus status;
    IpSlot slot;
};

// pkt is a whole IP packet (its length field already checked). unsupported: an IPv6 fragment
// header before the slot.
SlotFound find_ipsec_slot(std::span<const uint8_t> pkt, bool outbound);

// Writes next_header into the byte that names the slot's header and total_len into the IP
// header's length field (IPv4: recomputes the header checksum).
void set_slot_next_header(std::span<uint8_t> pkt, const IpSlot& slot, uint8_t next_header,
                          std::size_t total_len);

// 12 + the ICV, padded to 4 octets (IPv4) or 8 (IPv6).
std::size_t ah_header_bytes(std::size_t icv_bytes, Family f);

enum class AhStatus : uint8_t {
    ok,
    malformed,    // truncated, or a Payload Len shorter than the header or past the packet
    unsupported,  // fragments, source routes (the destination the ICV needs is not predicted)
    too_big,      // no room to insert AH
    auth_failed,  // ICV mismatch
    crypto_failed,
};

struct AhView {
    IpSlot slot;         // slot.offset is where AH starts
    std::size_t length;  // of AH: (Payload Len + 2) * 4
    uint8_t next_header;
    uint32_t spi;
    uint32_t seq_lo;
};

struct AhParsed {
    AhStatus status;
    AhView ah;
};

// Finds AH in pkt (a whole IP packet whose next header, after IPv6 extension headers, is AH).
AhParsed parse_ah(std::span<const uint8_t> pkt);

// Inserts AH after the IP header of pkt and fills in its ICV. pkt needs headroom for the header.
AhStatus ah_seal(crypto::Hmac& mac, Packet& pkt, uint32_t spi, uint64_t seq, bool esn);

// Checks the ICV of the AH parse_ah found in pkt, in constant time. seq is the full sequence
// number the replay check inferred (with ESN its high half enters the ICV).
AhStatus ah_verify(crypto::Hmac& mac, std::span<const uint8_t> pkt, const AhView& ah, uint64_t seq,
                   bool esn);

// Removes the verified AH: the headers before it move up, its next header takes its place.
void ah_remove(Packet& pkt, const AhView& ah);

}  // namespace ipsecfs::netpath
