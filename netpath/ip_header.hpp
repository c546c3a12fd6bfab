#pragma once
// The few IPv4 (RFC 791) and IPv6 (RFC 8200) header operations the transforms need.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/address.hpp"

namespace ipsecfs::netpath {

inline constexpr uint8_t kProtoIpip = 4;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6 = 41;
inline constexpr uint8_t kProtoEsp = 50;
inline constexpr uint8_t kProtoAh = 51;
inline constexpr uint8_t kProtoIpcomp = 108;
inline constexpr uint8_t kNextHeaderNone = 59;  // IPv6 "no next header", ESP dummy packets

inline constexpr std::size_t kIpv4HeaderBytes = 20;
inline constexpr std::size_t kIpv6HeaderBytes = 40;

// What the transforms need to know of a packet's IP header.
struct IpView {
    Family family;
    std::size_t header_len;  // IPv4: IHL * 4; IPv6: 40 (extension headers are payload here)
    uint8_t protocol;        // IPv4 protocol / IPv6 next header
    IpAddress src;
    IpAddress dst;
    std::size_t total_len;  // from the header; <= the buffer
};

// Validates version, lengths and (IPv4) fragments. nullopt: malformed, or an IPv4 fragment
// (is_fragment set) which we never process.
std::optional<IpView> parse_ip(std::span<const uint8_t> pkt, bool* is_fragment = nullptr);

// Rewrites protocol and total length of the header at pkt[0]. IPv4: updates the checksum, which
// must have been valid (RFC 1624), and keeps the TTL.
void set_protocol_and_length(std::span<uint8_t> pkt, Family family, uint8_t protocol,
                             std::size_t total_len);

// Writes an outer header (no options, TTL 64, IPv4 DF clear) for a payload of payload_len bytes.
// Returns the header length written at out (20 or 40).
std::size_t write_ip_header(uint8_t* out, const IpAddress& src, const IpAddress& dst,
                            uint8_t protocol, std::size_t payload_len, uint8_t tos);

uint8_t traffic_class(std::span<const uint8_t> pkt);

// The IPv4 protocol or IPv6 next header of the packet at pkt[0], without validating the rest (a
// look at a packet this side just decrypted and checked); nullopt if pkt is not IPv4 or IPv6 or
// is too short to hold the field.
std::optional<uint8_t> peek_protocol(std::span<const uint8_t> pkt);

// Gives an IPv4 packet with DF clear and Identification 0 an ID of its own (the kernel would
// pick one after we signed the header with AH).
void ensure_ipv4_id(std::span<uint8_t> pkt);
// Test only: the next IPv4 header this thread builds carries `id` (not 0).
void set_next_ipv4_id_for_test(uint16_t id);

uint16_t ipv4_checksum(std::span<const uint8_t> header);

}  // namespace ipsecfs::netpath
