#include <catch2/catch.hpp>

#include <string>
#include <unordered_set>

#include "core/address.hpp"

namespace ipsecfs {
namespace {

IpAddress addr(const std::string& text) {
    auto a = IpAddress::parse(text);
    INFO(text);
    REQUIRE(a.ok());
    return *a;
}

std::string round_trip(const std::string& text) {
    return addr(text).str();
}

}  // namespace

TEST_CASE("IPv4 addresses parse and print as dotted quads", "[core][address]") {
    const IpAddress a = addr("192.0.2.2");
    CHECK(a.is_v4());
    CHECK_FALSE(a.is_v6());
    CHECK(a.bits() == 32);
    CHECK(a.size() == 4);
    CHECK(a.bytes().size() == 4);
    CHECK(a.data()[0] == 192);
    CHECK(a.data()[3] == 2);
    CHECK(a.str() == "192.0.2.2");
    CHECK(round_trip("0.0.0.0") == "0.0.0.0");
    CHECK(round_trip("255.255.255.255") == "255.255.255.255");
    CHECK(addr("0.0.0.0").is_unspecified());
    CHECK_FALSE(a.is_unspecified());
    CHECK(IpAddress().str() == "0.0.0.0");
    CHECK(IpAddress().is_v4());
}

TEST_CASE("IPv6 addresses print as RFC 5952 text", "[core][address]") {
    // §4.1 no leading zeros, §4.3 lowercase
    CHECK(round_trip("2001:0DB8:0000:0000:0000:0000:0000:0002") == "2001:db8::2");
    CHECK(round_trip("2001:DB8:AbCd::1") == "2001:db8:abcd::1");
    CHECK(round_trip("3049:1::1") == "3049:1::1");
    // §4.2.1 longest run shortened
    CHECK(round_trip("2001:db8:0:0:1:0:0:0") == "2001:db8:0:0:1::");
    CHECK(round_trip("2001:0:0:1:0:0:0:1") == "2001:0:0:1::1");
    // §4.2.2 a single zero group is never ::
    CHECK(round_trip("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");
    CHECK(round_trip("2001:db8::1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");
    // §4.2.3 first run on a tie
    CHECK(round_trip("2001:db8:0:0:1:0:0:1") == "2001:db8::1:0:0:1");
    CHECK(round_trip("1:0:0:2:3:0:0:4") == "1::2:3:0:0:4");
    // edges
    CHECK(round_trip("::") == "::");
    CHECK(round_trip("0:0:0:0:0:0:0:0") == "::");
    CHECK(round_trip("::1") == "::1");
    CHECK(round_trip("1::") == "1::");
    CHECK(round_trip("fe80::") == "fe80::");
    CHECK(round_trip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") ==
          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK(round_trip("1:2:3:4:5:6:7:0") == "1:2:3:4:5:6:7:0");
    CHECK(round_trip("0:2:3:4:5:6:7:8") == "0:2:3:4:5:6:7:8");
    // §5 IPv4-mapped addresses end in a dotted quad
    CHECK(round_trip("::ffff:192.0.2.1") == "::ffff:192.0.2.1");
    CHECK(round_trip("0:0:0:0:0:FFFF:c000:0201") == "::ffff:192.0.2.1");
    CHECK(round_trip("::ffff:0.0.0.0") == "::ffff:0.0.0.0");

    const IpAddress six = addr("::");
    CHECK(six.is_v6());
    CHECK(six.is_unspecified());
    CHECK(six.bits() == 128);
    CHECK(six.size() == 16);
    CHECK(IpAddress::unspecified(Family::v6) == six);
    CHECK(IpAddress::unspecified(Family::v4) == addr("0.0.0.0"));
}

TEST_CASE("bad addresses are refused", "[core][address]") {
    for (const char* bad :
         {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d",
          "1:2:3:4:5:6:7:8:9", "1::2::3", "2001:db8::g", "::ffff:1.2.3", "192.0.2.1/24",
          "fe80::1%eth0", "localhost", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb"}) {
        INFO("'" << bad << "'");
        auto a = IpAddress::parse(bad);
        REQUIRE_FALSE(a.ok());
        CHECK_THAT(a.error(), Catch::Contains("bad address"));
    }
}

TEST_CASE("IPv4 and IPv6 addresses never compare equal", "[core][address]") {
    const IpAddress v4 = addr("0.0.0.1");
    const IpAddress v6 = addr("::1");
    CHECK_FALSE(v4 == v6);
    CHECK(v4 != v6);
    std::unordered_set<IpAddress> set{v4, v6, addr("0.0.0.1")};
    CHECK(set.size() == 2);
}

TEST_CASE("masked() clears host bits", "[core][address]") {
    CHECK(addr("192.0.2.77").masked(24) == addr("192.0.2.0"));
    CHECK(addr("192.0.2.77").masked(25) == addr("192.0.2.0"));
    CHECK(addr("192.0.2.200").masked(25) == addr("192.0.2.128"));
    CHECK(addr("192.0.2.77").masked(0) == addr("0.0.0.0"));
    CHECK(addr("192.0.2.77").masked(32) == addr("192.0.2.77"));
    CHECK(addr("2001:db8:ffff::1").masked(36) == addr("2001:db8:f000::"));
    CHECK(addr("2001:db8::1").masked(128) == addr("2001:db8::1"));
    CHECK(addr("2001:db8::1").masked(0) == addr("::"));
}

TEST_CASE("prefixes parse from bits, dotted masks and bare addresses", "[core][address]") {
    auto p = Prefix::parse("198.51.100.0/24");
    REQUIRE(p.ok());
    CHECK(p->bits == 24);
    CHECK(p->addr == addr("198.51.100.0"));
    CHECK(p->str() == "198.51.100.0/24");

    auto m = Prefix::parse("198.51.100.0/255.255.255.0");
    REQUIRE(m.ok());
    CHECK(*m == *p);

    auto zero = Prefix::parse("0.0.0.0/0.0.0.0");
    REQUIRE(zero.ok());
    CHECK(zero->bits == 0);
    CHECK(zero->str() == "0.0.0.0/0");

    auto host = Prefix::parse("192.0.2.1");
    REQUIRE(host.ok());
    CHECK(host->bits == 32);
    CHECK(host->str() == "192.0.2.1/32");
    CHECK(*host == Prefix::host(addr("192.0.2.1")));

    auto six = Prefix::parse("2001:DB8::/32");
    REQUIRE(six.ok());
    CHECK(six->bits == 32);
    CHECK(six->str() == "2001:db8::/32");

    auto six_host = Prefix::parse("2001:db8::5");
    REQUIRE(six_host.ok());
    CHECK(six_host->bits == 128);
    CHECK(six_host->str() == "2001:db8::5/128");

    auto all6 = Prefix::parse("::/0");
    REQUIRE(all6.ok());
    CHECK(all6->str() == "::/0");
}

TEST_CASE("bad prefixes are refused with a reason", "[core][address]") {
    const auto error_of = [](const std::string& text) {
        auto p = Prefix::parse(text);
        INFO(text);
        REQUIRE_FALSE(p.ok());
        return p.error();
    };
    CHECK_THAT(error_of("198.51.100.1/24"),
               Catch::Contains("host bits set") && Catch::Contains("198.51.100.0/24"));
    CHECK_THAT(error_of("2001:db8::1/32"),
               Catch::Contains("host bits set") && Catch::Contains("2001:db8::/32"));
    CHECK_THAT(error_of("192.0.2.0/33"), Catch::Contains("0..32"));
    CHECK_THAT(error_of("2001:db8::/129"), Catch::Contains("0..128"));
    CHECK_THAT(error_of("192.0.2.0/"), Catch::Contains("bad prefix"));
    CHECK_THAT(error_of("192.0.2.0/-1"), Catch::Contains("bad prefix"));
    CHECK_THAT(error_of("192.0.2.0/24x"), Catch::Contains("bad prefix"));
    CHECK_THAT(error_of("192.0.2.0/255.0.255.0"), Catch::Contains("not contiguous"));
    CHECK_THAT(error_of("192.0.2.0/255.255.256.0"), Catch::Contains("netmask"));
    CHECK_THAT(error_of("2001:db8::/255.255.0.0"), Catch::Contains("bad prefix"));
    CHECK_THAT(error_of("192.0.2/24"), Catch::Contains("bad address"));
    CHECK_THAT(error_of(""), Catch::Contains("bad prefix"));
}

TEST_CASE("Prefix::contains matches by family and prefix", "[core][address]") {
    const Prefix net = *Prefix::parse("198.51.100.0/24");
    CHECK(net.contains(addr("198.51.100.0")));
    CHECK(net.contains(addr("198.51.100.255")));
    CHECK_FALSE(net.contains(addr("198.51.101.0")));
    CHECK_FALSE(net.contains(addr("::ffff:198.51.100.1")));

    const Prefix any4 = *Prefix::parse("0.0.0.0/0");
    CHECK(any4.contains(addr("203.0.113.9")));
    CHECK_FALSE(any4.contains(addr("::")));
    CHECK_FALSE(any4.contains(addr("2001:db8::1")));

    const Prefix any6 = *Prefix::parse("::/0");
    CHECK(any6.contains(addr("2001:db8::1")));
    CHECK_FALSE(any6.contains(addr("0.0.0.0")));

    const Prefix doc6 = *Prefix::parse("2001:db8::/32");
    CHECK(doc6.contains(addr("2001:db8:ffff::1")));
    CHECK_FALSE(doc6.contains(addr("2001:db9::1")));

    const Prefix odd = *Prefix::parse("192.0.2.128/25");
    CHECK(odd.contains(addr("192.0.2.200")));
    CHECK_FALSE(odd.contains(addr("192.0.2.127")));

    const Prefix host = Prefix::host(addr("192.0.2.1"));
    CHECK(host.contains(addr("192.0.2.1")));
    CHECK_FALSE(host.contains(addr("192.0.2.2")));
}

TEST_CASE("masked() at every prefix length clears exactly the host bits", "[core][address]") {
    const IpAddress v6 = addr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
    const IpAddress v4 = addr("255.255.255.255");
    for (unsigned bits = 0; bits <= 128; ++bits) {
        const IpAddress m = v6.masked(bits);
        INFO("prefix " << bits);
        CHECK(m.family() == ipsecfs::Family::v6);
        for (unsigned i = 0; i < 128; ++i) {
            const bool set = (m.data()[i / 8] >> (7 - i % 8)) & 1;
            const bool was = (v6.data()[i / 8] >> (7 - i % 8)) & 1;
            REQUIRE(set == (i < bits && was));
        }
        if (bits <= 32) {
            const IpAddress m4 = v4.masked(bits);
            CHECK(m4.family() == ipsecfs::Family::v4);
            const uint32_t word = uint32_t{m4.data()[0]} << 24 | uint32_t{m4.data()[1]} << 16 |
                                  uint32_t{m4.data()[2]} << 8 | m4.data()[3];
            CHECK(word == (bits == 0 ? 0u : ~uint32_t{0} << (32 - bits)));
        }
    }
}

}  // namespace ipsecfs
