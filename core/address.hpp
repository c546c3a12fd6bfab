#pragma once
// IPv4/IPv6 addresses and prefixes: parsing, RFC 5952 printing, prefix matching.

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ipsecfs {

enum class Family : uint8_t { v4 = 4, v6 = 6 };

class IpAddress {
  public:
    IpAddress() = default;  // 0.0.0.0
    // Inline: every packet's header is read into two of these.
    static IpAddress v4(std::span<const uint8_t, 4> bytes) {
        IpAddress a;
        a.assign_v4(bytes);
        return a;
    }
    static IpAddress v6(std::span<const uint8_t, 16> bytes) {
        IpAddress a;
        a.assign_v6(bytes);
        return a;
    }
    // The same in place. The 16 address bytes are written with one 16-byte store: a packet's
    // addresses are read back at once, as whole 16 bytes, and a load that spans several smaller
    // stores still in flight cannot be forwarded from them (it waits for them to reach the cache).
    void assign_v4(std::span<const uint8_t, 4> bytes) {
        using Words = uint32_t __attribute__((vector_size(16)));
        uint32_t w;
        std::memcpy(&w, bytes.data(), 4);
        const Words v = {w, 0, 0, 0};
        std::memcpy(bytes_.data(), &v, 16);
        family_ = Family::v4;
    }
    void assign_v6(std::span<const uint8_t, 16> bytes) {
        std::memcpy(bytes_.data(), bytes.data(), 16);
        family_ = Family::v6;
    }
    static IpAddress unspecified(Family f);
    static Result<IpAddress> parse(std::string_view text);

    Family family() const { return family_; }
    bool is_v4() const { return family_ == Family::v4; }
    bool is_v6() const { return family_ == Family::v6; }
    bool is_unspecified() const;
    std::size_t size() const { return is_v4() ? 4 : 16; }
    unsigned bits() const { return is_v4() ? 32u : 128u; }
    const uint8_t* data() const { return bytes_.data(); }
    std::span<const uint8_t> bytes() const { return {bytes_.data(), size()}; }

    // Dotted quad, or RFC 5952 text (lowercase, longest zero run as ::).
    std::string str() const;
    IpAddress masked(unsigned prefix_bits) const;

    // Two 8-byte compares inline (the defaulted one calls memcmp): the packet path compares the
    // addresses of every packet with the lookup it remembers.
    friend bool operator==(const IpAddress& a, const IpAddress& b) {
        uint64_t x[2];
        uint64_t y[2];
        std::memcpy(x, a.bytes_.data(), 16);
        std::memcpy(y, b.bytes_.data(), 16);
        return a.family_ == b.family_ && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
    friend std::strong_ordering operator<=>(const IpAddress&, const IpAddress&) = default;

  private:
    Family family_ = Family::v4;
    std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first 4; the rest stay zero
};

struct Prefix {
    IpAddress addr;  // host bits are zero
    uint8_t bits = 0;

    // `addr/bits`, IPv4 `addr/dotted-mask`, or a bare address (host route). Host bits set is an
    // error.
    static Result<Prefix> parse(std::string_view text);
    static Prefix host(const IpAddress& a) { return Prefix{a, static_cast<uint8_t>(a.bits())}; }
    bool contains(const IpAddress& a) const;
    std::string str() const;  // addr/bits

    friend bool operator==(const Prefix&, const Prefix&) = default;
    friend std::strong_ordering operator<=>(const Prefix&, const Prefix&) = default;
};

struct IpAddressHash {
    std::size_t operator()(const IpAddress& a) const noexcept;
};

}  // namespace ipsecfs

template <>
struct std::hash<ipsecfs::IpAddress> : ipsecfs::IpAddressHash {};
