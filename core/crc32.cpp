#include "core/crc32.hpp"

#include <array>

namespace ipsecfs {
namespace {

// The reflected polynomial 0x04c11db7, one table entry per byte value.
constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32(uint32_t crc, std::span<const uint8_t> bytes) noexcept {
    crc = ~crc;
    for (uint8_t b : bytes)
        crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
    return ~crc;
}

}  // namespace ipsecfs
