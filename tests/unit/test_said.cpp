#include <catch2/catch.hpp>

#include <string>
#include <unordered_set>

#include "core/said.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs {
namespace {

using testing::said;

std::string said_error(const std::string& text) {
    auto s = Said::parse(text);
    INFO(text);
    REQUIRE_FALSE(s.ok());
    return s.error();
}

}  // namespace

TEST_CASE("SAIDs round-trip for IPv4 and IPv6", "[core][said]") {
    for (const char* text :
         {"esp.1000@192.0.2.2", "esp:1000@2001:db8::2", "tun.12a@192.168.43.1",
          "esp:9a35fc02@3049:1::1", "ah.100@192.0.2.2", "comp.ffffffff@203.0.113.7",
          "tun:101@3049:1::1", "ah:abcdef01@2001:db8::", "esp.100@0.0.0.0"}) {
        INFO(text);
        CHECK(said(text).str() == text);
    }
}

TEST_CASE("SAID fields", "[core][said]") {
    const Said s = said("esp:1000@2001:db8::2");
    CHECK(s.proto == SaProto::esp);
    CHECK(s.spi == 0x1000);
    CHECK(s.dst.is_v6());
    CHECK(s.dst.str() == "2001:db8::2");

    CHECK(said("tun.12a@192.168.43.1").proto == SaProto::tun);
    CHECK(said("ah.12a@192.168.43.1").proto == SaProto::ah);
    CHECK(said("comp.12a@192.168.43.1").proto == SaProto::comp);
    CHECK(said("tun.12a@192.168.43.1").spi == 0x12a);
}

TEST_CASE("SAID input forms are normalised on output", "[core][said]") {
    // KLIPS /proc spelling: no separator, 0x hex
    CHECK(said("esp0x1000@192.0.2.2").str() == "esp.1000@192.0.2.2");
    CHECK(said("esp0X1000@192.0.2.2").str() == "esp.1000@192.0.2.2");
    CHECK(said("esp0x1000@2001:db8::2").str() == "esp:1000@2001:db8::2");
    // no separator: base 0 (decimal, leading 0 octal)
    CHECK(said("esp4096@192.0.2.2").str() == "esp.1000@192.0.2.2");
    CHECK(said("esp010000@192.0.2.2").str() == "esp.1000@192.0.2.2");
    CHECK(said("tun256@192.0.2.2").str() == "tun.100@192.0.2.2");
    // uppercase hex digits and leading zeros print in canonical form
    CHECK(said("esp.ABCDEF@192.0.2.2").str() == "esp.abcdef@192.0.2.2");
    CHECK(said("esp.0001000@192.0.2.2").str() == "esp.1000@192.0.2.2");
    // RFC 5952 destination
    CHECK(said("esp:1000@2001:DB8:0:0::2").str() == "esp:1000@2001:db8::2");
}

TEST_CASE("SPI bounds are 0x100..0xffffffff", "[core][said]") {
    CHECK_THAT(said_error("esp.ff@192.0.2.2"), Catch::Contains("out of range"));
    CHECK_THAT(said_error("esp.0@192.0.2.2"), Catch::Contains("out of range"));
    CHECK(said("esp.100@192.0.2.2").spi == 0x100);
    CHECK(said("esp.ffffffff@192.0.2.2").spi == 0xffffffffu);
    CHECK_THAT(said_error("esp.100000000@192.0.2.2"), Catch::Contains("out of range"));
    CHECK_THAT(said_error("esp:ff@2001:db8::2"), Catch::Contains("out of range"));
    CHECK_THAT(said_error("esp255@192.0.2.2"), Catch::Contains("out of range"));
    CHECK_THAT(said_error("esp0x100000000@192.0.2.2"), Catch::Contains("out of range"));
    CHECK_THAT(said_error("esp.fffffffffffffffffffff@192.0.2.2"), Catch::Contains("SPI"));

    CHECK(check_spi(0x100).ok());
    CHECK(check_spi(0xffffffff).ok());
    CHECK_FALSE(check_spi(0xff).ok());
    CHECK_FALSE(check_spi(0x100000000ull).ok());
    CHECK_THAT(check_spi(0xff).error(), Catch::Contains("0xff") && Catch::Contains("0x100"));
}

TEST_CASE("parse_spi reads numbers the way --spi does", "[core][said]") {
    CHECK(*parse_spi("0x1000") == 0x1000);
    CHECK(*parse_spi("0X1000") == 0x1000);
    CHECK(*parse_spi("4096") == 4096);
    CHECK(*parse_spi("010000") == 010000);
    CHECK(*parse_spi("0xffffffff") == 0xffffffffu);
    CHECK(*parse_spi("256") == 256);
    CHECK_THAT(parse_spi("255").error(), Catch::Contains("out of range"));
    CHECK_THAT(parse_spi("0x100000000").error(), Catch::Contains("out of range"));
    CHECK_THAT(parse_spi("0").error(), Catch::Contains("out of range"));
    CHECK_FALSE(parse_spi("").ok());
    CHECK_FALSE(parse_spi("0x").ok());
    CHECK_FALSE(parse_spi("12z").ok());
    CHECK_FALSE(parse_spi("0x12z").ok());
    CHECK_FALSE(parse_spi("09").ok());
    CHECK_FALSE(parse_spi("-256").ok());
    CHECK_FALSE(parse_spi(" 256").ok());
    CHECK_FALSE(parse_spi("99999999999999999999999").ok());
}

TEST_CASE("the separator must match the address family", "[core][said]") {
    CHECK_THAT(said_error("esp.1000@2001:db8::2"), Catch::Contains("':'"));
    CHECK_THAT(said_error("esp:1000@192.0.2.2"), Catch::Contains("'.'"));
}

TEST_CASE("malformed SAIDs are refused", "[core][said]") {
    CHECK_THAT(said_error("xyz.1000@192.0.2.2"), Catch::Contains("unknown protocol"));
    CHECK_THAT(said_error("ESP.1000@192.0.2.2"), Catch::Contains("unknown protocol"));
    CHECK_THAT(said_error(".1000@192.0.2.2"), Catch::Contains("unknown protocol"));
    CHECK_THAT(said_error("esp.1000"), Catch::Contains("PROTO.SPI@ADDRESS"));
    CHECK_THAT(said_error("esp.1000@"), Catch::Contains("bad address"));
    CHECK_THAT(said_error("esp.1000@192.0.2"), Catch::Contains("bad address"));
    CHECK_THAT(said_error("esp.1000@192.0.2.2@1"), Catch::Contains("bad address"));
    CHECK_THAT(said_error("esp.@192.0.2.2"), Catch::Contains("SPI"));
    CHECK_THAT(said_error("esp@192.0.2.2"), Catch::Contains("SPI"));
    CHECK_THAT(said_error("esp.10g0@192.0.2.2"), Catch::Contains("SPI"));
    CHECK_THAT(said_error("esp.0x1000@192.0.2.2"), Catch::Contains("SPI"));
    CHECK_THAT(said_error("esp..1000@192.0.2.2"), Catch::Contains("SPI"));
    CHECK_THAT(said_error("esp.1000 @192.0.2.2"), Catch::Contains("SPI"));
    CHECK_THAT(said_error(""), Catch::Contains("bad SAID"));
    // every message quotes the input
    CHECK_THAT(said_error("esp.ff@192.0.2.2"), Catch::Contains("esp.ff@192.0.2.2"));
}

TEST_CASE("SAIDs order and hash by value", "[core][said]") {
    const Said a = said("esp.1000@192.0.2.2");
    const Said b = said("esp4096@192.0.2.2");
    const Said c = said("ah.1000@192.0.2.2");
    const Said d = said("esp.1000@192.0.2.3");
    CHECK(a == b);
    CHECK_FALSE(a == c);
    CHECK_FALSE(a == d);
    CHECK(a < d);
    CHECK(std::hash<Said>{}(a) == std::hash<Said>{}(b));
    std::unordered_set<Said> set{a, b, c, d};
    CHECK(set.size() == 3);
}

}  // namespace ipsecfs
