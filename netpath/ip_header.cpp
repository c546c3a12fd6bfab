#include "netpath/ip_header.hpp"
#include "netpath/byte_order.hpp"
#include "netpath/inet_checksum.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

namespace ipsecfs::netpath {
namespace {

// IPv4 Identification values for the headers we build. The kernel replaces an ID of 0 on a
// raw socket (when DF is clear) after we computed an AH ICV over it (RFC 4302 §3.3.3.1.1.1:
// the ID is immutable), so it is never 0; RFC 6864 asks only for uniqueness per flow.
thread_local uint16_t last_ipv4_id =
    static_cast<uint16_t>(reinterpret_cast<std::uintptr_t>(&last_ipv4_id) >> 4);

uint16_t next_ipv4_id() {
    if (++last_ipv4_id == 0) ++last_ipv4_id;
    return last_ipv4_id;
}

}  // namespace

void set_next_ipv4_id_for_test(uint16_t id) {
    last_ipv4_id = static_cast<uint16_t>(id - 1);
}

void ensure_ipv4_id(std::span<uint8_t> pkt) {
    if (pkt.size() < kIpv4HeaderBytes || (pkt[0] >> 4) != 4) return;
    if (get_be16(&pkt[4]) != 0 || (pkt[6] & 0x40) != 0) return;
    put_be16(&pkt[4], next_ipv4_id());
    const std::size_t ihl = (pkt[0] & 0x0fu) * 4u;
    if (ihl > pkt.size()) return;
    pkt[10] = pkt[11] = 0;
    put_be16(&pkt[10], ipv4_checksum(pkt.first(ihl)));
}

uint16_t ipv4_checksum(std::span<const uint8_t> header) {
    // RFC 1071 §2(B), (C): 32-bit words in host order summed in 64 bits, folded, and swapped to
    // network order once. A header is 20 to 60 bytes, a multiple of 4; a 16-bit word is left
    // only by other lengths, and a last odd byte is not summed.
    const uint8_t* p = header.data();
    std::size_t n = header.size();
    uint64_t acc = 0;
    for (; n >= 4; p += 4, n -= 4) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        acc += w;
    }
    if (n >= 2) {
        uint16_t w;
        std::memcpy(&w, p, 2);
        acc += w;
    }
    acc = (acc >> 32) + (acc & 0xffffffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    acc = (acc >> 16) + (acc & 0xffffu);
    auto sum = static_cast<uint16_t>(acc);
    if constexpr (std::endian::native == std::endian::little) sum = __builtin_bswap16(sum);
    return static_cast<uint16_t>(~sum);
}

std::optional<IpView> parse_ip(std::span<const uint8_t> pkt, bool* is_fragment) {
    // One object, filled in place and returned as itself: built as temporaries and copied, the
    // addresses were loaded back across the smaller stores that made them, a stall of every
    // packet's first few header reads (3.5 % of the daemons' CPU in a TCP stream).
    std::optional<IpView> out;
    if (is_fragment) *is_fragment = false;
    if (pkt.empty()) return out;
    const unsigned version = pkt[0] >> 4;
    if (version == 4) {
        if (pkt.size() < kIpv4HeaderBytes) return out;
        const std::size_t ihl = (pkt[0] & 0x0fu) * 4u;
        const std::size_t total = get_be16(&pkt[2]);
        if (ihl < kIpv4HeaderBytes || total < ihl || total > pkt.size()) return out;
        const uint16_t frag = get_be16(&pkt[6]);
        if ((frag & 0x3fff) != 0) {  // MF set or a non-zero offset
            if (is_fragment) *is_fragment = true;
            return out;
        }
        IpView& v = out.emplace();
        v.family = Family::v4;
        v.header_len = ihl;
        v.protocol = pkt[9];
        v.src.assign_v4(pkt.subspan<12, 4>());
        v.dst.assign_v4(pkt.subspan<16, 4>());
        v.total_len = total;
        return out;
    }
    if (version == 6) {
        if (pkt.size() < kIpv6HeaderBytes) return out;
        const std::size_t total = kIpv6HeaderBytes + get_be16(&pkt[4]);
        if (total > pkt.size()) return out;
        IpView& v = out.emplace();
        v.family = Family::v6;
        v.header_len = kIpv6HeaderBytes;
        v.protocol = pkt[6];
        v.src.assign_v6(pkt.subspan<8, 16>());
        v.dst.assign_v6(pkt.subspan<24, 16>());
        v.total_len = total;
        return out;
    }
    return out;
}

void set_protocol_and_length(std::span<uint8_t> pkt, Family family, uint8_t protocol,
                             std::size_t total_len) {
    if (family == Family::v4) {
        // RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over the two words that change (total length;
        // TTL and protocol). Summing the header again would read it back right after these
        // stores, which the CPU cannot forward to a wider load: a stall on every packet. The old
        // checksum is valid: the kernel checked it (ip_rcv) or we wrote it.
        const uint16_t old_len = get_be16(&pkt[2]);
        const uint16_t old_word = get_be16(&pkt[8]);
        const uint16_t old_sum = get_be16(&pkt[10]);
        const auto new_len = static_cast<uint16_t>(total_len);
        const auto new_word = static_cast<uint16_t>((old_word & 0xff00u) | protocol);
        uint32_t sum = static_cast<uint16_t>(~old_sum);
        sum += static_cast<uint16_t>(~old_len);
        sum += new_len;
        sum += static_cast<uint16_t>(~old_word);
        sum += new_word;
        pkt[9] = protocol;
        put_be16(&pkt[2], total_len);
        put_be16(&pkt[10], checksum_finish(sum));
    } else {
        pkt[6] = protocol;
        put_be16(&pkt[4], total_len - kIpv6HeaderBytes);
    }
}

uint8_t traffic_class(std::span<const uint8_t> pkt) {
    if (pkt.size() < 2) return 0;
    if ((pkt[0] >> 4) == 4) return pkt[1];
    return static_cast<uint8_t>((pkt[0] & 0x0f) << 4 | pkt[1] >> 4);
}

std::optional<uint8_t> peek_protocol(std::span<const uint8_t> pkt) {
    if (pkt.empty()) return std::nullopt;
    const unsigned version = pkt[0] >> 4;
    const std::size_t at = version == 4 ? 9 : version == 6 ? 6 : pkt.size();
    if (at >= pkt.size()) return std::nullopt;
    return pkt[at];
}

std::size_t write_ip_header(uint8_t* out, const IpAddress& src, const IpAddress& dst,
                            uint8_t protocol, std::size_t payload_len, uint8_t tos) {
    if (dst.is_v4()) {
        const uint16_t id = next_ipv4_id();
        const auto total = static_cast<uint16_t>(kIpv4HeaderBytes + payload_len);
        std::memset(out, 0, kIpv4HeaderBytes);
        out[0] = 0x45;
        out[1] = tos;
        put_be16(&out[2], total);
        put_be16(&out[4], id);
        out[8] = 64;
        out[9] = protocol;
        std::memcpy(&out[12], src.data(), 4);
        std::memcpy(&out[16], dst.data(), 4);
        // Summed from the values, not read back from the header just stored (see
        // set_protocol_and_length).
        uint32_t sum = (0x45u << 8 | tos) + total + id + (64u << 8 | protocol);
        for (const IpAddress* a : {&src, &dst})
            sum += get_be16(a->data()) + get_be16(a->data() + 2);
        put_be16(&out[10], checksum_finish(sum));
        return kIpv4HeaderBytes;
    }
    std::memset(out, 0, kIpv6HeaderBytes);
    out[0] = static_cast<uint8_t>(0x60 | tos >> 4);
    out[1] = static_cast<uint8_t>(tos << 4);
    put_be16(&out[4], payload_len);
    out[6] = protocol;
    out[7] = 64;
    std::memcpy(&out[8], src.data(), 16);
    std::memcpy(&out[24], dst.data(), 16);
    return kIpv6HeaderBytes;
}

}  // namespace ipsecfs::netpath
