// Two complete engines (worker threads, SADB snapshots, counters) back to back over in-memory
// TUN devices and a wire.

#include <algorithm>
#include <catch2/catch.hpp>

#include "netpath/engine.hpp"
#include "tests/support/fake_devices.hpp"
#include "tests/support/two_gateways.hpp"

using namespace ipsecfs;
using namespace std::chrono_literals;

namespace {

using testing::udp_packet;

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

// Each request the right engine delivers is answered by its "kernel" during the TUN write, so
// the inbound and outbound lanes of both engines change hands between the two packet threads
// all the time: one by one (a thread takes the reply its own write made) and in bursts (both
// threads busy). Every answer must come back once, in order, with every counter exact.
TEST_CASE("two engines answer requests one by one and in bursts", "[engine][threads]") {
    Rig rig(testing::TunnelSpec{});
    rig.right_tun->answer = [](const testing::Bytes& request) {
        return udp_packet("203.0.113.20", "198.51.100.10", 40, request.back());
    };
    constexpr std::size_t kOneByOne = 200, kBurst = 300;
    for (std::size_t i = 0; i < kOneByOne; ++i) {
        rig.left_tun->from_kernel.push(
            udp_packet("198.51.100.10", "203.0.113.20", 20, static_cast<uint8_t>(i)));
        REQUIRE(rig.left_tun->to_kernel.wait_for(i + 1, 5s) == i + 1);
    }
    for (std::size_t i = kOneByOne; i < kOneByOne + kBurst; ++i) {
        rig.left_tun->from_kernel.push(
            udp_packet("198.51.100.10", "203.0.113.20", 20, static_cast<uint8_t>(i)));
    }
    constexpr std::size_t kAll = kOneByOne + kBurst;
    REQUIRE(rig.left_tun->to_kernel.wait_for(kAll, 5s) == kAll);
    testing::Bytes got;
    netpath::OuterInfo info;
    for (std::size_t i = 0; i < kAll; ++i) {
        REQUIRE(rig.left_tun->to_kernel.pop(got, info));
        // The answer, byte for byte from its UDP header on (the IP ID differs per packet).
        const auto want = udp_packet("203.0.113.20", "198.51.100.10", 40, static_cast<uint8_t>(i));
        REQUIRE(got.size() == want.size());
        CHECK(std::equal(got.begin() + 20, got.end(), want.begin() + 20));
    }
    auto ls = rig.gw.left.sadb->snapshot();
    auto rs = rig.gw.right.sadb->snapshot();
    for (const char* said : {"esp.1000@192.0.2.2", "esp.2000@192.0.2.1"}) {
        CHECK(ls->find(*Said::parse(said))->counters().packets.get() == kAll);
        CHECK(rs->find(*Said::parse(said))->counters().packets.get() == kAll);
    }
    CHECK(rig.left_status.packets_out.get() == kAll);
    CHECK(rig.left_status.packets_in.get() == kAll);
    CHECK(rig.right_status.packets_in.get() == kAll);
    CHECK(rig.right_status.packets_out.get() == kAll);
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
