// The Internet checksum against a plain 16-bit sum: every length and alignment, on the CPU's
// best instruction set and on the baseline one.

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "netpath/inet_checksum.hpp"
#include "tests/support/reference_checksum.hpp"

using ipsecfs::netpath::checksum_add;
using ipsecfs::netpath::checksum_add_baseline;
using ipsecfs::netpath::checksum_fold;
using ipsecfs::testing::fold;
using ipsecfs::testing::sum16;

TEST_CASE("checksum_add: every length and alignment against a plain RFC 1071 sum", "[checksum]") {
    std::mt19937 rng(7);
    std::vector<uint8_t> buf(70'000);
    for (auto& b : buf)
        b = static_cast<uint8_t>(rng());
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n <= 200; ++n)
        lengths.push_back(n);
    for (std::size_t n : {1447u, 1448u, 1449u, 1450u, 9000u, 65'535u})
        lengths.push_back(n);
    for (std::size_t len : lengths) {
        for (std::size_t at = 0; at < 8; ++at) {
            const std::span<const uint8_t> bytes(buf.data() + at, len);
            const uint16_t want = fold(sum16(bytes.data(), len, 0x1234));
            INFO("length " << len << " at offset " << at);
            CHECK(checksum_fold(checksum_add(0x1234, bytes)) == want);
            CHECK(checksum_fold(checksum_add_baseline(0x1234, bytes)) == want);
        }
    }
}

TEST_CASE("checksum_add: all-ones words carry around (no sum lost above 16 bits)", "[checksum]") {
    std::vector<uint8_t> ones(65'535, 0xff);
    for (std::size_t len : {2u, 3u, 64u, 65'534u, 65'535u}) {
        const std::span<const uint8_t> bytes(ones.data(), len);
        INFO("length " << len);
        CHECK(checksum_fold(checksum_add(0, bytes)) == fold(sum16(ones.data(), len)));
        CHECK(checksum_fold(checksum_add_baseline(0, bytes)) == fold(sum16(ones.data(), len)));
    }
}
