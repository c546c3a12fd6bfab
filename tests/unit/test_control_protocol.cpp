#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "fs/unique_fd.hpp"
#include "mountd/lib/control_protocol.hpp"

using namespace ipsecfs;
using namespace ipsecfs::mountd;
using namespace std::chrono_literals;

namespace {

std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

struct SocketPair {
    fs::UniqueFd a, b;
    SocketPair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        a = fs::UniqueFd(fds[0]);
        b = fs::UniqueFd(fds[1]);
    }
};

}  // namespace

TEST_CASE("requests and responses survive encoding", "[control]") {
    Request batch{RequestKind::batch,
                  {{1, {"spi", "--said", "esp.1000@192.0.2.2", "--del"}},
                   {7, {"spi", "--clear"}},
                   {9, {"spigrp", "--said", "", "x y"}}}};
    auto bytes = encode_request(batch);
    REQUIRE(bytes.ok());
    auto back = decode_request(*bytes);
    REQUIRE(back.ok());
    CHECK(*back == batch);

    Request single{RequestKind::command, {{0, {"spi"}}}};
    auto single_back = decode_request(*encode_request(single));
    REQUIRE(single_back.ok());
    CHECK(*single_back == single);

    for (const Response& r : {Response::success(), Response::success("line\nline\n"),
                              Response::failure("SA esp.1000@192.0.2.2 does not exist")}) {
        auto decoded = decode_response(encode_response(r));
        REQUIRE(decoded.ok());
        CHECK(*decoded == r);
    }
}

TEST_CASE("malformed requests are refused without large allocations", "[control]") {
    const std::string ok_line = be32(0) + be32(1) + be32(3) + "spi";
    const auto request = [](uint8_t version, uint8_t kind, uint32_t count,
                            const std::string& body) {
        return std::string{static_cast<char>(version), static_cast<char>(kind)} + be32(count) +
               body;
    };
    CHECK(decode_request(request(1, 1, 1, ok_line)).ok());
    CHECK_FALSE(decode_request("").ok());
    CHECK_FALSE(decode_request(request(2, 1, 1, ok_line)).ok());                // version
    CHECK_FALSE(decode_request(request(1, 3, 1, ok_line)).ok());                // kind
    CHECK_FALSE(decode_request(request(1, 1, 2, ok_line + ok_line)).ok());      // command holds one
    CHECK_FALSE(decode_request(request(1, 2, 0xffffffff, ok_line)).ok());       // count vs payload
    CHECK_FALSE(decode_request(request(1, 1, 1, ok_line + "x")).ok());          // trailing bytes
    CHECK_FALSE(decode_request(request(1, 1, 1, ok_line.substr(0, 10))).ok());  // truncated
    CHECK_FALSE(decode_request(request(1, 1, 1, be32(0) + be32(0))).ok());      // no words
    CHECK_FALSE(decode_request(request(1, 1, 1, be32(0) + be32(1) + be32(0x7fffffff))).ok());
    CHECK_FALSE(decode_request(request(1, 1, 1, be32(0) + be32(100000) + be32(0))).ok());

    const auto err = decode_request(request(1, 2, 0xffffffff, ok_line));
    CHECK(err.error().find("malformed request") == 0);
}

TEST_CASE("encoding refuses what the decoder would refuse", "[control]") {
    CHECK_FALSE(
        encode_request({RequestKind::command, {{0, {std::string(kMaxWordBytes + 1, 'x')}}}}).ok());
    CHECK_FALSE(
        encode_request({RequestKind::command, {{0, std::vector<std::string>(kMaxWords + 1, "x")}}})
            .ok());
}

TEST_CASE("frames move over a stream socket", "[control][threads]") {
    SocketPair s;
    const std::string payload(300'000, 'p');  // more than one socket buffer
    std::thread writer([&] { CHECK(write_frame(s.a.get(), payload, deadline_in(5s)).ok()); });
    auto got = read_frame(s.b.get(), 1 << 20, deadline_in(5s));
    writer.join();
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK(**got == payload);
}

TEST_CASE("frame reading enforces size, deadline and clean close", "[control]") {
    SECTION("a frame above the limit is refused before it is read") {
        SocketPair s;
        REQUIRE(write_frame(s.a.get(), std::string(100, 'x'), deadline_in(1s)).ok());
        auto got = read_frame(s.b.get(), 99, deadline_in(1s));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error().find("exceeds the limit") != std::string::npos);
    }
    SECTION("a peer that stops halfway times out") {
        SocketPair s;
        const std::string partial = be32(10) + "abc";
        REQUIRE(::send(s.a.get(), partial.data(), partial.size(), 0) == 7);
        auto got = read_frame(s.b.get(), 100, deadline_in(100ms));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == "timed out");
    }
    SECTION("a peer that closes before sending is no error") {
        SocketPair s;
        s.a.reset();
        auto got = read_frame(s.b.get(), 100, deadline_in(1s));
        REQUIRE(got.ok());
        CHECK_FALSE(got->has_value());
    }
    SECTION("a peer that closes mid-frame is an error") {
        SocketPair s;
        const std::string partial = be32(10) + "abc";
        REQUIRE(::send(s.a.get(), partial.data(), partial.size(), 0) == 7);
        s.a.reset();
        CHECK_FALSE(read_frame(s.b.get(), 100, deadline_in(1s)).ok());
    }
}
