// Two complete engines (worker threads, SADB snapshots, counters) back to back over in-memory
// TUN devices and a wire.

#include <catch2/catch.hpp>
#include <cstring>

#include "netpath/engine.hpp"
#include "netpath/ip_header.hpp"
#include "tests/support/fake_devices.hpp"
#include "tests/support/two_gateways.hpp"

using namespace ipsecfs;
using namespace std::chrono_literals;

namespace {

testing::Bytes udp_packet(const std::string& src, const std::string& dst, std::size_t len,
                          uint8_t fill) {
    testing::Bytes b(28 + len + 20, 0);
    const std::size_t hlen = netpath::write_ip_header(
        b.data(), *IpAddress::parse(src), *IpAddress::parse(dst), netpath::kProtoUdp, 8 + len, 0);
    b.resize(hlen + 8 + len);
    b[hlen + 4] = static_cast<uint8_t>((8 + len) >> 8);
    b[hlen + 5] = static_cast<uint8_t>(8 + len);
    std::memset(b.data() + hlen + 8, fill, len);
    return b;
}

struct Rig {
    testing::GatewayPair gw;
    DataplaneStatus left_status, right_status;
    testing::FakeTun* left_tun = nullptr;
    testing::FakeTun* right_tun = nullptr;
    std::unique_ptr<netpath::Engine> left, right;

    explicit Rig(const testing::TunnelSpec& spec) : gw(testing::make_pair(spec)) {
        auto lt = std::make_unique<testing::FakeTun>("left0");
        auto rt = std::make_unique<testing::FakeTun>("right0");
        left_tun = lt.get();
        right_tun = rt.get();
        auto lw = std::make_unique<testing::FakeTransport>();
        auto rw = std::make_unique<testing::FakeTransport>();
        lw->peer = rw.get();
        rw->peer = lw.get();
        auto clock = [] { return int64_t{7'000'000'000}; };
        left = std::move(*netpath::Engine::start_with({}, *gw.left.sadb, left_status, clock,
                                                      std::move(lt), std::move(lw)));
        right = std::move(*netpath::Engine::start_with({}, *gw.right.sadb, right_status, clock,
                                                       std::move(rt), std::move(rw)));
    }
    ~Rig() {
        left->stop();
        right->stop();
    }
};

}  // namespace

TEST_CASE("two engines carry a burst both ways", "[engine][threads]") {
    testing::TunnelSpec spec;
    spec.natt = GENERATE(false, true);
    Rig rig(spec);
    constexpr std::size_t kPackets = 300;
    std::vector<testing::Bytes> sent;
    for (std::size_t i = 0; i < kPackets; ++i) {
        sent.push_back(
            udp_packet("198.51.100.10", "203.0.113.20", 10 + i, static_cast<uint8_t>(i)));
        rig.left_tun->from_kernel.push(sent.back());
        rig.right_tun->from_kernel.push(udp_packet("203.0.113.20", "198.51.100.10", 50, 1));
    }
    REQUIRE(rig.right_tun->to_kernel.wait_for(kPackets, 5s) == kPackets);
    REQUIRE(rig.left_tun->to_kernel.wait_for(kPackets, 5s) == kPackets);
    testing::Bytes got;
    netpath::OuterInfo info;
    for (std::size_t i = 0; i < kPackets; ++i) {
        REQUIRE(rig.right_tun->to_kernel.pop(got, info));
        CHECK(got == sent[i]);  // in order, byte for byte
    }
    std::size_t bytes = 0;
    for (const auto& s : sent)
        bytes += s.size();
    auto ls = rig.gw.left.sadb->snapshot();
    auto rs = rig.gw.right.sadb->snapshot();
    for (const char* said : {"esp.1000@192.0.2.2", "tun.10001@192.0.2.2"}) {
        CHECK(ls->find(*Said::parse(said))->counters().bytes.get() == bytes);
        CHECK(rs->find(*Said::parse(said))->counters().bytes.get() == bytes);
        CHECK(rs->find(*Said::parse(said))->counters().packets.get() == kPackets);
    }
    CHECK(rig.left_status.packets_out.get() == kPackets);
    CHECK(rig.right_status.packets_in.get() == kPackets);
    CHECK(rig.left_tun->mtu > 1300);
}

TEST_CASE("an SA deleted under traffic drops cleanly and the group recovers", "[engine][threads]") {
    Rig rig(testing::TunnelSpec{});
    for (int i = 0; i < 50; ++i)
        rig.left_tun->from_kernel.push(udp_packet("198.51.100.10", "203.0.113.20", 100, 1));
    REQUIRE(rig.right_tun->to_kernel.wait_for(50, 5s) == 50);
    testing::apply_or_throw(*rig.gw.right.sadb, {"spi", "--said", "esp.1000@192.0.2.2", "--del"});
    for (int i = 0; i < 50; ++i)
        rig.left_tun->from_kernel.push(udp_packet("198.51.100.10", "203.0.113.20", 100, 1));
    // Bounded wait for the drops to be counted.
    for (int i = 0;
         i < 500 && rig.right_status.drops[static_cast<std::size_t>(DropReason::no_sa)].get() < 50;
         ++i) {
        std::this_thread::sleep_for(2ms);
    }
    CHECK(rig.right_status.drops[static_cast<std::size_t>(DropReason::no_sa)].get() == 50);
    CHECK(rig.right_tun->to_kernel.wait_for(51, 50ms) == 50);
}
