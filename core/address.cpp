#include "core/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>

namespace ipsecfs {

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

namespace {

// The first `keep` bits (0..64) of a 64-bit word read from network-order bytes, as a mask over
// those same bytes in memory.
uint64_t leading_bits_mask(unsigned keep) {
    const uint64_t msb_first = keep == 0 ? 0 : ~uint64_t{0} << (64 - keep);
    return std::endian::native == std::endian::little ? __builtin_bswap64(msb_first) : msb_first;
}

}  // namespace

IpAddress IpAddress::masked(unsigned prefix_bits) const {
    std::array<uint64_t, 2> words;
    std::memcpy(words.data(), bytes_.data(), 16);
    for (unsigned i = 0; i < 2; ++i) {
        const unsigned first = i * 64;
        const unsigned keep = prefix_bits <= first ? 0 : std::min(prefix_bits - first, 64u);
        words[i] &= leading_bits_mask(keep);
    }
    IpAddress out = *this;
    std::memcpy(out.bytes_.data(), words.data(), 16);
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
    // Both 64-bit halves (an IPv4 address has zeros in the rest) multiplied apart and mixed as
    // splitmix64's finalizer does: the eroute and SA tables look one up per packet.
    std::array<uint64_t, 2> words;
    std::memcpy(words.data(), a.data(), 16);
    uint64_t h = words[0] * 0x9e3779b97f4a7c15ull ^
                 std::rotl(words[1] * 0xc2b2ae3d27d4eb4full, 31) ^ static_cast<uint8_t>(a.family());
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return static_cast<std::size_t>(h ^ (h >> 31));
}

}  // namespace ipsecfs
