// The address, prefix, SAID, SPI and key parsers on any text, with the round trip every printer
// owes its parser: what parses prints as text that parses back to the same value (and prints the
// same again). The input's bytes also serve as binary addresses, prefixes and SAIDs, so every
// value is printed, not only those some text spells. Seeds: spellings from the man pages.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/key_bytes.hpp"
#include "core/said.hpp"

using namespace ipsecfs;

namespace {

template <class T>
void round_trip(const T& value) {
    const std::string text = value.str();
    const auto again = T::parse(text);
    if (!again || !(*again == value) || again->str() != text) __builtin_trap();
}

void from_text(std::string_view text) {
    if (const auto a = IpAddress::parse(text)) round_trip(*a);
    if (const auto p = Prefix::parse(text)) {
        round_trip(*p);
        if (!p->contains(p->addr)) __builtin_trap();
    }
    if (const auto s = Said::parse(text)) round_trip(*s);
    if (const auto spi = parse_spi(text); spi && *spi < kMinSpi) __builtin_trap();
    (void)parse_key(text, "--enckey");
}

void from_bytes(std::span<const uint8_t> b) {
    if (b.size() < 22) return;
    const IpAddress v4 = IpAddress::v4(b.subspan<0, 4>());
    const IpAddress v6 = IpAddress::v6(b.subspan<4, 16>());
    round_trip(v4);
    round_trip(v6);
    for (const IpAddress& a : {v4, v6}) {
        const auto bits = static_cast<uint8_t>(b[20] % (a.bits() + 1));
        round_trip(Prefix{a.masked(bits), bits});
        const uint32_t spi =
            kMinSpi + (uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]) %
                          (0xffffffffu - kMinSpi + 1);
        static constexpr SaProto kProtos[] = {SaProto::tun, SaProto::esp, SaProto::ah,
                                              SaProto::comp};
        round_trip(Said{kProtos[b[21] % 4], spi, a});
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    from_text({reinterpret_cast<const char*>(data), size});
    from_bytes({data, size});
    return 0;
}
