#pragma once
// CRC-32 (ISO 3309 / IEEE 802.3, the one zlib and gzip compute), for the state file's checksum:
// it catches every burst of up to 32 flipped bits, so any torn or bit-rotted write is found.

#include <cstdint>
#include <span>

namespace ipsecfs {

// Continues `crc` (0 to start) over `bytes`; crc32(crc32(0, a), b) == crc32(0, a + b).
uint32_t crc32(uint32_t crc, std::span<const uint8_t> bytes) noexcept;

}  // namespace ipsecfs
