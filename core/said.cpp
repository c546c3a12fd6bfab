#include "core/said.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace ipsecfs {
namespace {

Result<uint64_t> parse_number(std::string_view text, int base, std::string_view what) {
    if (base == 0) {
        if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
            text.remove_prefix(2);
            base = 16;
        } else if (text.size() > 1 && text[0] == '0') {
            text.remove_prefix(1);
            base = 8;
        } else {
            base = 10;
        }
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (text.empty() || ec == std::errc::result_out_of_range) {
        return fail("bad " + std::string(what) + " '" + std::string(text) + "'");
    }
    if (ec != std::errc() || end != text.data() + text.size()) {
        return fail("bad " + std::string(what) + " '" + std::string(text) + "': not a base-" +
                    std::to_string(base) + " number");
    }
    return value;
}

}  // namespace

Result<void> check_spi(uint64_t spi) {
    if (spi < kMinSpi || spi > 0xffffffffull) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(spi));
        return fail(std::string("SPI ") + buf +
                    " out of range: must be 0x100..0xffffffff (0x0..0xff are reserved)");
    }
    return {};
}

Result<uint32_t> parse_spi(std::string_view text) {
    auto n = parse_number(text, 0, "SPI");
    if (!n) return std::move(n).take_error();
    if (auto ok = check_spi(*n); !ok) return std::move(ok).take_error();
    return static_cast<uint32_t>(*n);
}

Result<Said> Said::parse(std::string_view text) {
    const std::string quoted = "bad SAID '" + std::string(text) + "': ";
    const auto at = text.find('@');
    if (at == std::string_view::npos) return fail(quoted + "expected PROTO.SPI@ADDRESS");
    const auto head = text.substr(0, at);
    std::size_t name_end = 0;
    while (name_end < head.size() && std::islower(static_cast<unsigned char>(head[name_end]))) {
        ++name_end;
    }
    // "esp0x1000": the protocol name ends where the digits begin.
    auto proto = parse_proto_name(head.substr(0, name_end));
    if (!proto) return fail(quoted + proto.error());
    auto rest = head.substr(name_end);
    auto dst = IpAddress::parse(text.substr(at + 1));
    if (!dst) return fail(quoted + dst.error());

    int base = 0;
    if (!rest.empty() && (rest[0] == '.' || rest[0] == ':')) {
        const bool wants_v4 = rest[0] == '.';
        if (wants_v4 != dst->is_v4()) {
            return fail(quoted + (wants_v4 ? "'.' is for IPv4 destinations, use ':'"
                                           : "':' is for IPv6 destinations, use '.'"));
        }
        rest.remove_prefix(1);
        base = 16;
    }
    auto spi = parse_number(rest, base, "SPI");
    if (!spi) return fail(quoted + spi.error());
    if (auto ok = check_spi(*spi); !ok) return fail(quoted + ok.error());
    return Said{*proto, static_cast<uint32_t>(*spi), *dst};
}

std::string Said::str() const {
    char spi_hex[16];
    std::snprintf(spi_hex, sizeof(spi_hex), "%x", spi);
    std::string s(proto_name(proto));
    s += dst.is_v4() ? '.' : ':';
    s += spi_hex;
    s += '@';
    s += dst.str();
    return s;
}

std::size_t SaidHash::operator()(const Said& s) const noexcept {
    const std::size_t h = IpAddressHash{}(s.dst);
    return h ^ (static_cast<std::size_t>(s.spi) * 0x9e3779b97f4a7c15ull) ^
           static_cast<std::size_t>(s.proto);
}

}  // namespace ipsecfs
