// Outer IP headers as the packet path writes them: fields, and an IPv4 checksum that verifies.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>

#include "netpath/ip_header.hpp"
#include "tests/support/reference_checksum.hpp"

using ipsecfs::IpAddress;
using ipsecfs::netpath::peek_protocol;
using ipsecfs::netpath::write_ip_header;

TEST_CASE("write_ip_header: IPv4 fields and a header checksum that verifies", "[ip]") {
    std::mt19937 rng(11);
    std::array<uint8_t, 20> out{};
    for (int i = 0; i < 2000; ++i) {
        std::array<uint8_t, 4> s{}, d{};
        for (auto& b : s)
            b = static_cast<uint8_t>(rng());
        for (auto& b : d)
            b = static_cast<uint8_t>(rng());
        const auto tos = static_cast<uint8_t>(rng());
        const auto protocol = static_cast<uint8_t>(rng());
        const std::size_t payload = rng() % (65535 - 20 + 1);
        REQUIRE(write_ip_header(out.data(), IpAddress::v4(s), IpAddress::v4(d), protocol, payload,
                                tos) == 20);
        INFO("header " << i);
        CHECK(ipsecfs::testing::fold(ipsecfs::testing::sum16(out.data(), out.size())) == 0xffff);
        CHECK(out[0] == 0x45);
        CHECK(out[1] == tos);
        CHECK((out[2] << 8 | out[3]) == static_cast<int>(20 + payload));
        CHECK((out[4] << 8 | out[5]) != 0);  // an ID of its own (AH covers it)
        CHECK(out[8] == 64);
        CHECK(out[9] == protocol);
        CHECK(std::equal(s.begin(), s.end(), out.begin() + 12));
        CHECK(std::equal(d.begin(), d.end(), out.begin() + 16));
    }
}

TEST_CASE("peek_protocol: the IPv4 protocol or IPv6 next header, nullopt when too short", "[ip]") {
    std::array<uint8_t, 40> h{};
    const std::array<uint8_t, 4> s4{192, 0, 2, 1}, d4{192, 0, 2, 2};
    REQUIRE(write_ip_header(h.data(), IpAddress::v4(s4), IpAddress::v4(d4), 17, 8, 0) == 20);
    CHECK(peek_protocol(std::span(h.data(), 20)) == uint8_t{17});
    CHECK(peek_protocol(std::span(h.data(), 10)) == uint8_t{17});
    CHECK(peek_protocol(std::span(h.data(), 9)) == std::nullopt);

    std::array<uint8_t, 16> s6{0x20, 0x01, 0x0d, 0xb8}, d6{0x20, 0x01, 0x0d, 0xb8};
    d6[15] = 2;
    REQUIRE(write_ip_header(h.data(), IpAddress::v6(s6), IpAddress::v6(d6), 6, 20, 0) == 40);
    CHECK(peek_protocol(h) == uint8_t{6});
    CHECK(peek_protocol(std::span(h.data(), 7)) == uint8_t{6});
    CHECK(peek_protocol(std::span(h.data(), 6)) == std::nullopt);

    h[0] = 0x50;  // neither version
    CHECK(peek_protocol(h) == std::nullopt);
    CHECK(peek_protocol({}) == std::nullopt);
}

TEST_CASE("ipv4_checksum: the RFC 1071 sum of every header length, complemented", "[ip]") {
    std::mt19937 rng(11);
    std::array<uint8_t, 60> h{};
    for (int round = 0; round < 200; ++round) {
        for (auto& b : h)
            b = static_cast<uint8_t>(rng());
        if (round == 0) h.fill(0xff);  // the largest sums: every fold carries
        for (std::size_t len = 20; len <= 60; len += 4) {
            const uint16_t want = static_cast<uint16_t>(
                ~ipsecfs::testing::fold(ipsecfs::testing::sum16(h.data(), len)));
            INFO("round " << round << " length " << len);
            REQUIRE(ipsecfs::netpath::ipv4_checksum({h.data(), len}) == want);
        }
    }
}

TEST_CASE("set_protocol_and_length: the updated IPv4 checksum equals one summed afresh", "[ip]") {
    std::mt19937 rng(5);
    for (int round = 0; round < 2000; ++round) {
        std::array<uint8_t, 24> h{};
        for (auto& b : h)
            b = static_cast<uint8_t>(rng());
        const std::size_t ihl = round % 2 == 0 ? 20 : 24;
        h[0] = static_cast<uint8_t>(0x40 | ihl / 4);
        h[10] = h[11] = 0;
        const uint16_t before = ipsecfs::netpath::ipv4_checksum({h.data(), ihl});
        h[10] = static_cast<uint8_t>(before >> 8);
        h[11] = static_cast<uint8_t>(before);
        const auto protocol = static_cast<uint8_t>(rng());
        const std::size_t total = ihl + rng() % 65000;
        ipsecfs::netpath::set_protocol_and_length({h.data(), h.size()}, ipsecfs::Family::v4,
                                                  protocol, total);
        INFO("round " << round);
        REQUIRE(h[9] == protocol);
        REQUIRE(static_cast<std::size_t>(h[2] << 8 | h[3]) == total);
        REQUIRE(ipsecfs::testing::fold(ipsecfs::testing::sum16(h.data(), ihl)) == 0xffff);
    }
}
