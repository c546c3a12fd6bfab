#include "core/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ipsecfs {

IpAddress IpAddress::v4(std::span<const uint8_t, 4> bytes) {
    IpAddress a;
    a.family_ = Family::v4;
    std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
    return a;
}

IpAddress IpAddress::v6(std::span<const uint8_t, 16> bytes) {
    IpAddress a;
    a.family_ = Family::v6;
    std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
    return a;
}

IpAddress IpAddress::unspecified(Family f) {
    IpAddress a;
    a.family_ = f;
    return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof(buf)) {
        return fail("bad address '" + std::string(text) + "'");
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    std::array<uint8_t, 16> raw{};
    if (text.find(':') == std::string_view::npos) {
        if (inet_pton(AF_INET, buf, raw.data()) == 1) {
            return v4(std::span<const uint8_t, 4>(raw.data(), 4));
        }
    } else if (inet_pton(AF_INET6, buf, raw.data()) == 1) {
        return v6(raw);
    }
    return fail("bad address '" + std::string(text) + "'");
}

bool IpAddress::is_unspecified() const {
    return std::all_of(bytes_.begin(), bytes_.end(), [](uint8_t b) { return b == 0; });
}

std::string IpAddress::str() const {
    if (is_v4()) {
        std::string s;
        for (int i = 0; i < 4; ++i) {
            if (i) s += '.';
            s += std::to_string(bytes_[static_cast<std::size_t>(i)]);
        }
        return s;
    }
    // RFC 5952 §4: lowercase hex, no leading zeros, the longest run (first on a tie) of two or
    // more zero groups becomes "::"; §5: IPv4-mapped addresses end in dotted quad.
    uint16_t g[8];
    for (int i = 0; i < 8; ++i) {
        g[i] = static_cast<uint16_t>(bytes_[static_cast<std::size_t>(2 * i)] << 8 |
                                     bytes_[static_cast<std::size_t>(2 * i + 1)]);
    }
    const bool mapped =
        g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
    const int groups = mapped ? 6 : 8;
    int best_start = -1, best_len = 0;
    for (int i = 0; i < groups;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < groups && g[j] == 0)
            ++j;
        if (j - i > best_len && j - i >= 2) {
            best_start = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string s;
    char hex[8];
    for (int i = 0; i < groups; ++i) {
        if (i == best_start) {
            s += "::";
            i += best_len - 1;
            continue;
        }
        if (!s.empty() && s.back() != ':') s += ':';
        auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), g[i], 16);
        (void)ec;
        s.append(hex, end);
    }
    if (mapped) {
        if (s.back() != ':') s += ':';
        for (int i = 12; i < 16; ++i) {
            s += std::to_string(bytes_[static_cast<std::size_t>(i)]);
            if (i != 15) s += '.';
        }
    }
    return s;
}

IpAddress IpAddress::masked(unsigned prefix_bits) const {
    IpAddress out = *this;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned first = i * 8;
        if (first >= prefix_bits) {
            out.bytes_[i] = 0;
        } else if (prefix_bits - first < 8) {
            out.bytes_[i] &= static_cast<uint8_t>(0xff00u >> (prefix_bits - first));
        }
    }
    return out;
}

bool Prefix::contains(const IpAddress& a) const {
    return a.family() == addr.family() && a.masked(bits) == addr;
}

std::string Prefix::str() const {
    return addr.str() + "/" + std::to_string(bits);
}

namespace {

// A dotted IPv4 netmask must be contiguous ones then zeros.
Result<unsigned> mask_to_bits(const IpAddress& mask) {
    uint32_t m = 0;
    for (int i = 0; i < 4; ++i)
        m = m << 8 | mask.data()[i];
    const uint32_t inverted = ~m;
    if ((inverted & (inverted + 1)) != 0)
        return fail("netmask " + mask.str() + " is not contiguous");
    unsigned bits = 0;
    while (m & 0x80000000u) {
        ++bits;
        m <<= 1;
    }
    return bits;
}

}  // namespace

Result<Prefix> Prefix::parse(std::string_view text) {
    const auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return fail("bad prefix '" + std::string(text) + "': " + addr.error());
    unsigned bits = addr->bits();
    if (slash != std::string_view::npos) {
        const auto len = text.substr(slash + 1);
        if (addr->is_v4() && len.find('.') != std::string_view::npos) {
            auto mask = IpAddress::parse(len);
            if (!mask) return fail("bad prefix '" + std::string(text) + "': bad netmask");
            auto m = mask_to_bits(*mask);
            if (!m) return fail("bad prefix '" + std::string(text) + "': " + m.error());
            bits = *m;
        } else {
            unsigned value = 0;
            auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
            if (len.empty() || ec != std::errc() || end != len.data() + len.size() ||
                value > addr->bits()) {
                return fail("bad prefix '" + std::string(text) + "': prefix length must be 0.." +
                            std::to_string(addr->bits()));
            }
            bits = value;
        }
    }
    Prefix p{addr->masked(bits), static_cast<uint8_t>(bits)};
    if (!(p.addr == *addr)) {
        return fail("bad prefix '" + std::string(text) + "': host bits set (did you mean " +
                    p.str() + "?)");
    }
    return p;
}

std::size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
    uint64_t h = 1469598103934665603ull ^ static_cast<uint8_t>(a.family());
    for (uint8_t b : a.bytes()) {
        h ^= b;
        h *= 1099511628211ull;
    }
    return static_cast<std::size_t>(h);
}

}  // namespace ipsecfs
