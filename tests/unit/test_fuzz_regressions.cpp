// Inputs the fuzzers of tests/fuzz found to hang or break a property, with the bytes that found
// them, replayed against the state they were found in.

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/command.hpp"
#include "netpath/processor.hpp"
#include "tests/fuzz/fuzz_rig.hpp"
#include "tests/support/vectors.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;
using ipsecfs::testing::hex;

namespace {

// The parse on a thread of its own, so that a hang fails the test instead of stalling the suite
// (the thread is then left behind, spinning until the process ends).
std::optional<Result<Command>> parse_within(const std::string& line, std::chrono::seconds limit) {
    auto promise = std::make_shared<std::promise<Result<Command>>>();
    auto future = promise->get_future();
    std::thread([promise, line] {
        auto words = split_command_line(line);
        promise->set_value(words ? parse_command(*words) : Result<Command>(fail(words.error())));
    }).detach();
    if (future.wait_for(limit) != std::future_status::ready) return std::nullopt;
    return future.get();
}

Result<Command> parse_line(const std::string& line) {
    const auto parsed = parse_within(line, std::chrono::seconds(10));
    REQUIRE(parsed.has_value());
    return *parsed;
}

}  // namespace

TEST_CASE("an option word that spells a Boost placeholder is refused, not looped on",
          "[fuzz][command]") {
    // fuzz_command: Boost.Program_options fills in its messages by replacing %canonical_option%
    // and friends until none is left; an unknown option that spells one never finished.
    const auto found = hex(
        "737069202d2d73616964206573702e31313030403139322e302e322e32202d2d252525252525252540252525"
        "2525252525fcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfc"
        "fcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfc"
        "fcfcfcfcfcfcfcfcfcfcfcfc2525252525252525252525252525252525252525252525252525252525252525"
        "252525252525252525252525252525252525252563616e6f6e6963616c5f6f7074696f6e25252e2525252525"
        "2525252525252525252525252525252525252590737263203039362e302e322e31202d2d6330643065306636"
        "30302d73");
    const std::vector<std::string> lines = {
        std::string(found.begin(), found.end()),
        "spi --said esp.1000@192.0.2.2 --%canonical_option%",
        "spi --said esp.1000@192.0.2.2 --esn=%original_token%",
        "eroute --add --%option%=x",
        "spigrp --%prefix%%value% --said tun.1000@192.0.2.2",
    };
    for (const auto& line : lines) {
        INFO(line);
        const auto parsed = parse_within(line, std::chrono::seconds(10));
        REQUIRE(parsed.has_value());
        REQUIRE_FALSE(parsed->ok());
        CHECK_THAT(parsed->error(), Catch::Contains("option '--"));
    }
    // A '%' in a key is fine; a mistake next to it is named without Boost's message, and one
    // without a '%' in sight keeps Boost's.
    CHECK(parse_line("spi --said esp.1000@192.0.2.2 --esp aes128gcm16 --enckey "
                     "0t%canonical_option%xy")
              .ok());
    CHECK(parse_line("spi --bogus --enckey 0t100%").error() ==
          "unrecognised or malformed option '--bogus' (see ipsec spi --help)");
    CHECK(parse_line("spi --bogus").error() ==
          "unrecognised option '--bogus' (see ipsec spi --help)");
}

TEST_CASE("IPv6 packets cross a transport comp+esp group that IPCOMP left out",
          "[fuzz][groups][ipcomp]") {
    // fuzz_outbound: the sender sends these without IPCOMP (ipcomp_compress: an IPv6 fragment; a
    // payload too small after the routing header's destination options), but the receiver looked
    // for the IPCOMP layer further than the sender would have put it, through a fragment header
    // or into headers past that spot, and dropped them as malformed. 2001:db8::3 → ::4 is
    // fuzz_rig's transport comp+esp (3DES) flow.
    const std::vector<testing::Bytes> found = {
        hex("600000020060004020010db800000000000000000000000320010db80000000000000000000000040000"
            "000000000000000000000000000000000000000000000000000000000000000000600000580000004020"
            "010db800000000000000000000000120010db80000000000000000002c00005800000002000000000000"
            "0000002300000000000000586869707365635f694020010db800000000008000000000000001007ffe30"
            "6d4ba00040114441c04d40c6"),
        hex("600000020060004020010db800000000000000000000000320010db80000000000000000000000042b00"
            "0000450000323c04002ecfc400004011449cc633640acb00710a30393040cf39322e323a20b100fd3710"
            "2f2dbfcddff70000000000000000000000000000000000000000000000007a000000000000b800000000"
            "0acb00710a30393070693a5f4145535d484d5f734544cfac40c644001100c0336420"),
    };
    const auto sender = fuzz::make_gateway(true);
    const auto receiver = fuzz::make_gateway(false);
    DataplaneStatus sender_status, receiver_status;
    Processor out(sender_status), in(receiver_status);
    auto p = std::make_unique<Packet>();
    for (const auto& clear : found) {
        auto area = p->reset();
        std::copy(clear.begin(), clear.end(), area.begin());
        p->set_size(clear.size());
        const Outcome sent = out.outbound(*sender->snapshot(), *p, 1);
        INFO("sender: " << drop_reason_name(sent.reason));
        REQUIRE(sent.ok);
        const Outcome r = in.inbound(*receiver->snapshot(), *p, 2);
        INFO("receiver: " << drop_reason_name(r.reason));
        REQUIRE(r.ok);
        // The clear packet as long as its header says; the bytes after it are not sent.
        const std::size_t total = 40 + (std::size_t{clear[4]} << 8 | clear[5]);
        CHECK(std::vector<uint8_t>(p->data(), p->data() + p->size()) ==
              std::vector<uint8_t>(clear.begin(), clear.begin() + static_cast<long>(total)));
    }
}
