#pragma once
// The SA identifier: protocol, SPI and destination, printed `esp.1000@192.0.2.2` (IPv4) or
// `esp:1000@2001:db8::2` (IPv6) as the seed page shows.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/algorithm.hpp"
#include "core/result.hpp"

namespace ipsecfs {

inline constexpr uint32_t kMinSpi = 0x100;  // 0x0..0xff are reserved (ipsec_spi(5))

struct Said {
    SaProto proto = SaProto::esp;
    uint32_t spi = 0;
    IpAddress dst;

    // Accepts `esp.1000@192.0.2.2`, `esp:1000@2001:db8::2` (hex SPI; '.' needs IPv4, ':' IPv6) and
    // the KLIPS /proc spelling `esp0x1000@…` (no separator: 0x hex, leading 0 octal, else decimal).
    static Result<Said> parse(std::string_view text);
    std::string str() const;

    friend bool operator==(const Said&, const Said&) = default;
    friend auto operator<=>(const Said&, const Said&) = default;
};

// Parses an SPI as `ipsec spi --spi` does (0x hex, leading 0 octal, else decimal) and checks the
// reserved range.
Result<uint32_t> parse_spi(std::string_view text);
Result<void> check_spi(uint64_t spi);

struct SaidHash {
    std::size_t operator()(const Said& s) const noexcept;
};

}  // namespace ipsecfs

template <>
struct std::hash<ipsecfs::Said> : ipsecfs::SaidHash {};
