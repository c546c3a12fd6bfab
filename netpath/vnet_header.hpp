#pragma once
// The virtio-net header a TUN device opened with IFF_VNET_HDR puts in front of every packet
// (struct virtio_net_hdr, virtio 1.x §5.1.6; little-endian, as TUNSETVNETLE asks). With offloads
// on (TUNSETOFFLOAD), the kernel hands over TCP super-packets of up to 64 KB to be cut into
// gso_size segments (and UDP ones, USO, where the kernel has it), and packets whose transport
// checksum is only partly done; and it takes such packets from us.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ipsecfs::netpath {

inline constexpr std::size_t kVnetHeaderBytes = 10;

struct VnetHeader {
    // flags
    static constexpr uint8_t kNeedsCsum = 1;  // checksum at csum_start + csum_offset is partial
    static constexpr uint8_t kDataValid = 2;
    // gso_type
    static constexpr uint8_t kGsoNone = 0;
    static constexpr uint8_t kGsoTcpV4 = 1;
    static constexpr uint8_t kGsoUdp = 3;  // UFO, never enabled
    static constexpr uint8_t kGsoTcpV6 = 4;
    static constexpr uint8_t kGsoUdpL4 = 5;  // USO (Linux 6.2+)
    static constexpr uint8_t kGsoEcn = 0x80;

    uint8_t flags = 0;
    uint8_t gso_type = kGsoNone;
    uint16_t hdr_len = 0;   // length of the headers copied into every segment (a hint)
    uint16_t gso_size = 0;  // payload bytes per segment
    uint16_t csum_start = 0;
    uint16_t csum_offset = 0;

    bool is_gso() const { return (gso_type & ~kGsoEcn) != kGsoNone; }
    bool needs_csum() const { return (flags & kNeedsCsum) != 0; }
};

inline VnetHeader parse_vnet_header(std::span<const uint8_t, kVnetHeaderBytes> b) {
    auto le16 = [&](std::size_t i) { return static_cast<uint16_t>(b[i] | (b[i + 1] << 8)); };
    VnetHeader h;
    h.flags = b[0];
    h.gso_type = b[1];
    h.hdr_len = le16(2);
    h.gso_size = le16(4);
    h.csum_start = le16(6);
    h.csum_offset = le16(8);
    return h;
}

inline void write_vnet_header(const VnetHeader& h, std::span<uint8_t, kVnetHeaderBytes> b) {
    auto le16 = [&](std::size_t i, uint16_t v) {
        b[i] = static_cast<uint8_t>(v);
        b[i + 1] = static_cast<uint8_t>(v >> 8);
    };
    b[0] = h.flags;
    b[1] = h.gso_type;
    le16(2, h.hdr_len);
    le16(4, h.gso_size);
    le16(6, h.csum_start);
    le16(8, h.csum_offset);
}

}  // namespace ipsecfs::netpath
