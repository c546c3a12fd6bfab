// Two gateways' packet processors back to back, in memory: what left protects, right opens.

#include <catch2/catch.hpp>
#include <cstring>

#include "netpath/ip_header.hpp"
#include "netpath/processor.hpp"
#include "tests/support/two_gateways.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;
using ipsecfs::testing::GatewayPair;
using ipsecfs::testing::TunnelSpec;

namespace {

// A UDP datagram from src to dst carrying `len` payload bytes.
void make_udp(Packet& p, const std::string& src, const std::string& dst, std::size_t len,
              uint8_t fill) {
    auto s = *IpAddress::parse(src);
    auto d = *IpAddress::parse(dst);
    auto area = p.reset();
    const std::size_t hlen = write_ip_header(area.data(), s, d, kProtoUdp, 8 + len, 0);
    uint8_t* udp = area.data() + hlen;
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x30, udp[3] = 0x3a;
    udp[4] = static_cast<uint8_t>((8 + len) >> 8), udp[5] = static_cast<uint8_t>(8 + len);
    udp[6] = udp[7] = 0;
    std::memset(udp + 8, fill, len);
    p.set_size(hlen + 8 + len);
}

// What the kernel and our transport do between the two gateways: a UDP-encapsulated packet
// arrives with a rebuilt outer header.
void wire(Packet& p) {
    if (p.outer.kind == OuterKind::udp) {
        const std::size_t len = p.size();
        const std::size_t hlen = p.outer.dst.is_v4() ? kIpv4HeaderBytes : kIpv6HeaderBytes;
        p.push_front(hlen);
        write_ip_header(p.data(), p.outer.src, p.outer.dst, kProtoEsp, len, 0);
    }
}

std::vector<uint8_t> bytes_of(const Packet& p) {
    return {p.data(), p.data() + p.size()};
}

const Sa& sa_at(const Sadb& db, const std::string& said) {
    auto snap = db.snapshot();
    const Sa* sa = snap->find(*Said::parse(said));
    REQUIRE(sa != nullptr);
    return *sa;
}

struct Rig {
    GatewayPair gw;
    DataplaneStatus left_status, right_status;
    Processor left{left_status}, right{right_status};
    explicit Rig(const TunnelSpec& spec) : gw(ipsecfs::testing::make_pair(spec)) {}

    Outcome send_left_to_right(Packet& p) {
        auto ls = gw.left.sadb->snapshot();
        auto out = left.outbound(*ls, p, 5'000'000'000);
        if (!out.ok) return out;
        wire(p);
        auto rs = gw.right.sadb->snapshot();
        return right.inbound(*rs, p, 6'000'000'000);
    }
};

}  // namespace

TEST_CASE("every ESP suite carries IPv4 in IPv4 tunnel mode", "[processor]") {
    const auto suite =
        GENERATE(as<std::string>{}, "aes128gcm16", "aes256gcm16", "chacha20poly1305",
                 "aes128-sha1-96", "aes192-sha1-96", "aes256-sha1-96", "aes128-sha2_256-128",
                 "aes256-sha2_256-128", "3des-md5-96", "3des-sha1-96", "null-sha1-96", "3des");
    const bool natt = GENERATE(false, true);
    CAPTURE(suite, natt);
    TunnelSpec spec;
    spec.esp = suite;
    spec.natt = natt;
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    for (std::size_t len : {0u, 1u, 15u, 16u, 100u, 1400u}) {
        make_udp(*p, "198.51.100.10", "203.0.113.20", len, static_cast<uint8_t>(len));
        const auto sent = bytes_of(*p);
        const auto r = rig.send_left_to_right(*p);
        REQUIRE(r.ok);
        CHECK(bytes_of(*p) == sent);
    }
    CHECK(sa_at(*rig.gw.left.sadb, "esp.1000@192.0.2.2").counters().packets.get() == 6);
    CHECK(sa_at(*rig.gw.right.sadb, "esp.1000@192.0.2.2").counters().packets.get() == 6);
    CHECK(sa_at(*rig.gw.right.sadb, "tun.10001@192.0.2.2").counters().bytes.get() ==
          sa_at(*rig.gw.left.sadb, "tun.10001@192.0.2.2").counters().bytes.get());
    CHECK(sa_at(*rig.gw.right.sadb, "esp.1000@192.0.2.2").counters().seq.get() == 6);
    CHECK(sa_at(*rig.gw.left.sadb, "esp.1000@192.0.2.2").counters().seq.get() == 6);
}

TEST_CASE("inner and outer families mix", "[processor]") {
    TunnelSpec spec;
    spec.ipv6_outer = GENERATE(false, true);
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    if (spec.ipv6_outer) {
        make_udp(*p, "2001:db8:1::10", "2001:db8:2::20", 500, 7);
    } else {
        make_udp(*p, "198.51.100.10", "203.0.113.20", 500, 7);
    }
    const auto sent = bytes_of(*p);
    REQUIRE(rig.send_left_to_right(*p).ok);
    CHECK(bytes_of(*p) == sent);
}

TEST_CASE("transport mode between the gateways", "[processor]") {
    TunnelSpec spec;
    spec.tunnel = false;
    spec.ipv6_outer = GENERATE(false, true);
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    make_udp(*p, rig.gw.left.addr, rig.gw.right.addr, 300, 9);
    const auto sent = bytes_of(*p);
    REQUIRE(rig.send_left_to_right(*p).ok);
    CHECK(bytes_of(*p) == sent);
}

TEST_CASE("a replayed packet is dropped and counted in ooo_errs", "[processor]") {
    Rig rig(TunnelSpec{});
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "203.0.113.20", 64, 1);
    auto ls = rig.gw.left.sadb->snapshot();
    REQUIRE(rig.left.outbound(*ls, *p, 1).ok);
    wire(*p);
    const auto captured = bytes_of(*p);
    auto rs = rig.gw.right.sadb->snapshot();
    REQUIRE(rig.right.inbound(*rs, *p, 2).ok);
    auto replay = std::make_unique<Packet>();
    auto area = replay->reset();
    std::memcpy(area.data(), captured.data(), captured.size());
    replay->set_size(captured.size());
    const auto r = rig.right.inbound(*rs, *replay, 3);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == DropReason::replay);
    const Sa& in = sa_at(*rig.gw.right.sadb, "esp.1000@192.0.2.2");
    CHECK(in.counters().ooo_errs.get() == 1);
    CHECK(in.counters().packets.get() == 1);
    CHECK(rig.right_status.drops[static_cast<std::size_t>(DropReason::replay)].get() == 1);
}

TEST_CASE("a flipped ciphertext byte fails authentication", "[processor]") {
    TunnelSpec spec;
    spec.esp = GENERATE(as<std::string>{}, "aes128gcm16", "aes128-sha1-96", "chacha20poly1305");
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "203.0.113.20", 64, 1);
    auto ls = rig.gw.left.sadb->snapshot();
    REQUIRE(rig.left.outbound(*ls, *p, 1).ok);
    wire(*p);
    p->data()[p->size() - 20] ^= 0x01;
    auto rs = rig.gw.right.sadb->snapshot();
    const auto r = rig.right.inbound(*rs, *p, 2);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == DropReason::auth_failed);
    CHECK(sa_at(*rig.gw.right.sadb, "esp.1000@192.0.2.2").counters().auth_errs.get() == 1);
}

TEST_CASE("packets without an eroute or SA are dropped and counted", "[processor]") {
    Rig rig(TunnelSpec{});
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "192.0.2.99", 10, 1);
    auto ls = rig.gw.left.sadb->snapshot();
    CHECK(rig.left.outbound(*ls, *p, 1).reason == DropReason::no_eroute);

    make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
    REQUIRE(rig.left.outbound(*ls, *p, 1).ok);
    wire(*p);
    p->data()[20 + 3] ^= 0xff;  // the SPI's low byte
    auto rs = rig.gw.right.sadb->snapshot();
    CHECK(rig.right.inbound(*rs, *p, 2).reason == DropReason::no_sa);
    CHECK(rig.right_status.drops[static_cast<std::size_t>(DropReason::no_sa)].get() == 1);
}

TEST_CASE("the inbound policy refuses inner addresses outside it", "[processor]") {
    Rig rig(TunnelSpec{});
    // Left routes 198.51.100.0/24 -> 192.0.2.128/25 into the same tunnel; right's policy only
    // admits 198.51.100.0/24 -> 203.0.113.0/24.
    ipsecfs::testing::apply_or_throw(*rig.gw.left.sadb,
                                     {"eroute", "--add", "--src", "198.51.100.0/24", "--dst",
                                      "192.0.2.128/25", "--said", "tun.10001@192.0.2.2"});
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "192.0.2.200", 10, 1);
    const auto r = rig.send_left_to_right(*p);
    CHECK(r.reason == DropReason::policy_mismatch);
}

TEST_CASE("a deleted group member takes the group down until it is re-added", "[processor]") {
    Rig rig(TunnelSpec{});
    auto& left = *rig.gw.left.sadb;
    ipsecfs::testing::apply_or_throw(left, {"spi", "--said", "esp.1000@192.0.2.2", "--del"});
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
    CHECK(rig.send_left_to_right(*p).reason == DropReason::group_incomplete);
    ipsecfs::testing::TunnelSpec spec;
    auto again =
        std::vector<std::string>{"spi", "--said", "esp.1000@192.0.2.2", "--src", "192.0.2.1"};
    auto o = ipsecfs::testing::esp_options(spec, 1);
    again.insert(again.end(), o.begin(), o.end());
    again.insert(again.end(), {"--seq", "100"});
    ipsecfs::testing::apply_or_throw(left, again);
    make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
    CHECK(rig.send_left_to_right(*p).ok);
}

TEST_CASE("the remembered eroute and SA follow every change of the SADB", "[processor]") {
    Rig rig(TunnelSpec{});
    auto& left = *rig.gw.left.sadb;
    auto& right = *rig.gw.right.sadb;
    auto p = std::make_unique<Packet>();
    const auto send = [&] {
        make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
        return rig.send_left_to_right(*p);
    };
    const auto eroute_packets = [&] {
        const auto snap = left.snapshot();
        REQUIRE(snap->eroutes().size() == 1);
        return snap->eroutes()[0].packets->get();
    };
    REQUIRE(send().ok);
    REQUIRE(send().ok);
    CHECK(eroute_packets() == 2);  // counted on a remembered lookup too

    // Gone from a newer snapshot: the remembered pointers are not used.
    ipsecfs::testing::apply_or_throw(
        left, {"eroute", "--del", "--src", "198.51.100.0/24", "--dst", "203.0.113.0/24"});
    CHECK(send().reason == DropReason::no_eroute);
    ipsecfs::testing::apply_or_throw(left, {"eroute", "--add", "--src", "198.51.100.0/24", "--dst",
                                            "203.0.113.0/24", "--said", "tun.10001@192.0.2.2"});
    REQUIRE(send().ok);
    // A narrower inbound policy of the remembered tun SA applies to the next packet.
    ipsecfs::testing::apply_or_throw(
        right, {"eroute", "--replacein", "--src", "198.51.100.0/25", "--dst", "203.0.113.128/25",
                "--said", "tun.10001@192.0.2.2"});
    CHECK(send().reason == DropReason::policy_mismatch);
    ipsecfs::testing::apply_or_throw(
        right, {"eroute", "--replacein", "--src", "198.51.100.0/24", "--dst", "203.0.113.0/24",
                "--said", "tun.10001@192.0.2.2"});
    REQUIRE(send().ok);
    ipsecfs::testing::apply_or_throw(right, {"spi", "--said", "esp.1000@192.0.2.2", "--del"});
    CHECK(send().reason == DropReason::no_sa);

    // Another flow between two of the same flow's packets finds its own eroute (none here).
    Rig fresh(TunnelSpec{});
    auto ls = fresh.gw.left.sadb->snapshot();
    make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
    REQUIRE(fresh.left.outbound(*ls, *p, 1).ok);
    make_udp(*p, "198.51.100.10", "192.0.2.99", 10, 1);
    CHECK(fresh.left.outbound(*ls, *p, 1).reason == DropReason::no_eroute);
    make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
    CHECK(fresh.left.outbound(*ls, *p, 1).ok);
}

TEST_CASE("an eroute naming an inbound SA sends nothing", "[processor]") {
    Rig rig(TunnelSpec{});
    auto& left = *rig.gw.left.sadb;
    std::string inbound_tun;
    for (const auto& [said, sa] : left.snapshot()->sas()) {
        if (said.proto == SaProto::tun && sa->config().dir == Direction::in)
            inbound_tun = said.str();
    }
    REQUIRE_FALSE(inbound_tun.empty());
    ipsecfs::testing::apply_or_throw(left, {"eroute", "--replace", "--src", "198.51.100.0/24",
                                            "--dst", "203.0.113.0/24", "--said", inbound_tun});
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "203.0.113.20", 10, 1);
    auto ls = left.snapshot();
    CHECK(rig.left.outbound(*ls, *p, 1).reason == DropReason::no_sa);
    CHECK(sa_at(left, inbound_tun).counters().packets.get() == 0);
    CHECK(sa_at(left, inbound_tun)
              .counters()
              .drops[static_cast<std::size_t>(DropReason::no_sa)]
              .get() == 1);
}

TEST_CASE("ESN carries past 2^32 and the sender never wraps without it", "[processor]") {
    TunnelSpec spec;
    spec.esn = true;
    spec.esp = GENERATE(as<std::string>{}, "aes128gcm16", "aes128-sha1-96");
    spec.extra_left_in = {};
    Rig rig(spec);
    // Move right's sender close to the 2^32 boundary; left's receiver follows.
    auto& right = *rig.gw.right.sadb;
    auto out =
        std::vector<std::string>{"spi",       "--said", "esp.1000@192.0.2.2", "--src", "192.0.2.1",
                                 "--replace", "--seq",  "4294967290"};
    auto o = ipsecfs::testing::esp_options(spec, 1);
    out.insert(out.end(), o.begin(), o.end());
    ipsecfs::testing::apply_or_throw(*rig.gw.left.sadb, out);
    auto in = out;
    in[out.size() - o.size() - 1] = "4294967280";
    ipsecfs::testing::apply_or_throw(right, in);
    auto p = std::make_unique<Packet>();
    for (int i = 0; i < 12; ++i) {
        make_udp(*p, "198.51.100.10", "203.0.113.20", 40, 3);
        REQUIRE(rig.send_left_to_right(*p).ok);
    }
    CHECK(sa_at(right, "esp.1000@192.0.2.2").counters().seq.get() == 4294967290ull + 12);
}

TEST_CASE("without ESN the sender stops at 2^32 - 1", "[processor]") {
    Rig rig(TunnelSpec{});
    auto out =
        std::vector<std::string>{"spi",       "--said", "esp.1000@192.0.2.2", "--src", "192.0.2.1",
                                 "--replace", "--seq",  "4294967294"};
    auto o = ipsecfs::testing::esp_options(TunnelSpec{}, 1);
    out.insert(out.end(), o.begin(), o.end());
    ipsecfs::testing::apply_or_throw(*rig.gw.left.sadb, out);
    auto p = std::make_unique<Packet>();
    make_udp(*p, "198.51.100.10", "203.0.113.20", 40, 3);
    auto ls = rig.gw.left.sadb->snapshot();
    CHECK(rig.left.outbound(*ls, *p, 1).ok);  // 2^32 - 1
    make_udp(*p, "198.51.100.10", "203.0.113.20", 40, 3);
    CHECK(rig.left.outbound(*ls, *p, 1).reason == DropReason::seq_exhausted);
    CHECK(sa_at(*rig.gw.left.sadb, "esp.1000@192.0.2.2").counters().seq.get() == 4294967295ull);
}
