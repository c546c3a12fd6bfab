// Outer IP headers as the packet path writes them: fields, and an IPv4 checksum that verifies.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>

#include "netpath/ip_header.hpp"
#include "tests/support/reference_checksum.hpp"

using ipsecfs::IpAddress;
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
