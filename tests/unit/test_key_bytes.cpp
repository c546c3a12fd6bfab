#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/key_bytes.hpp"

namespace ipsecfs {
namespace {

std::vector<uint8_t> key(const std::string& text) {
    auto k = parse_key(text, "--enckey");
    INFO(text << ": " << (k.ok() ? std::string() : k.error()));
    REQUIRE(k.ok());
    return {k->begin(), k->end()};
}

std::string key_error(const std::string& text) {
    auto k = parse_key(text, "--enckey");
    INFO(text);
    REQUIRE_FALSE(k.ok());
    return k.error();
}

using Bytes = std::vector<uint8_t>;

}  // namespace

TEST_CASE("hex keys", "[core][key_bytes]") {
    CHECK(key("0x00") == Bytes{0x00});
    CHECK(key("0x0123456789abcdef") == Bytes{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef});
    CHECK(key("0XABCDEF") == Bytes{0xab, 0xcd, 0xef});
    CHECK(key("0xAbCd") == Bytes{0xab, 0xcd});
    // FreeS/WAN ttodata allows underscores between digits
    CHECK(key("0x0123_4567") == Bytes{0x01, 0x23, 0x45, 0x67});
    CHECK(key(std::string("0x") + std::string(48, 'f')).size() == 24);
}

TEST_CASE("bad hex keys", "[core][key_bytes]") {
    CHECK_THAT(key_error("0x123"), Catch::Contains("odd number of hex digits"));
    CHECK_THAT(key_error("0x1"), Catch::Contains("odd"));
    CHECK_THAT(key_error("0x12g4"), Catch::Contains("'g' is not a hex digit"));
    CHECK_THAT(key_error("0x12 34"), Catch::Contains("not a hex digit"));
    CHECK_THAT(key_error("0x"), Catch::Contains("no hex digits"));
    CHECK_THAT(key_error("0x__"), Catch::Contains("no hex digits"));
    // the option is named in every message
    CHECK_THAT(key_error("0x123"), Catch::StartsWith("--enckey"));
}

TEST_CASE("base64 keys", "[core][key_bytes]") {
    CHECK(key("0sQUJD") == Bytes{'A', 'B', 'C'});
    CHECK(key("0sQUI=") == Bytes{'A', 'B'});
    CHECK(key("0sQQ==") == Bytes{'A'});
    CHECK(key("0SQUJD") == Bytes{'A', 'B', 'C'});
    CHECK(key("0s+/+/") == Bytes{0xfb, 0xff, 0xbf});
    // 16 zero bytes
    CHECK(key("0sAAAAAAAAAAAAAAAAAAAAAA==") == Bytes(16, 0));
}

TEST_CASE("bad base64 keys", "[core][key_bytes]") {
    CHECK_THAT(key_error("0sQU*D"), Catch::Contains("'*' is not a base64 character"));
    CHECK_THAT(key_error("0sQUJ"), Catch::Contains("multiple of 4"));
    CHECK_THAT(key_error("0sQ"), Catch::Contains("multiple of 4"));
    CHECK_THAT(key_error("0sQUJDR"), Catch::Contains("multiple of 4"));
    CHECK_THAT(key_error("0sQ==="), Catch::Contains("multiple of 4"));
    CHECK_THAT(key_error("0sQUJD===="), Catch::Contains("multiple of 4"));
    CHECK_THAT(key_error("0sQQ=A"), Catch::Contains("after '=' padding"));
    CHECK_THAT(key_error("0s"), Catch::Contains("no base64 data"));
    CHECK_THAT(key_error("0s===="), Catch::Contains("no base64 data"));
    // "QR==": the last symbol carries bits that are not part of any byte
    CHECK_THAT(key_error("0sQR=="), Catch::Contains("stray bits"));
}

TEST_CASE("text keys", "[core][key_bytes]") {
    CHECK(key("0tabc") == Bytes{'a', 'b', 'c'});
    CHECK(key("0Tx") == Bytes{'x'});
    CHECK(key("0t0x12") == Bytes{'0', 'x', '1', '2'});
    CHECK(key("0t with spaces") ==
          Bytes{' ', 'w', 'i', 't', 'h', ' ', 's', 'p', 'a', 'c', 'e', 's'});
    CHECK_THAT(key_error("0t"), Catch::Contains("no text after 0t"));
}

TEST_CASE("keys need a 0x, 0s or 0t prefix", "[core][key_bytes]") {
    for (const char* bad : {"", "0", "1234", "x1234", "0y1234", "00x12", "abcd"}) {
        INFO("'" << bad << "'");
        CHECK_THAT(key_error(bad),
                   Catch::Contains("0x") && Catch::Contains("0s") && Catch::Contains("0t"));
    }
    auto k = parse_key("0q12", "--authkey");
    REQUIRE_FALSE(k.ok());
    CHECK_THAT(k.error(), Catch::StartsWith("--authkey"));
}

}  // namespace ipsecfs
