// Where the packet threads run the two lanes (netpath/worker.cpp): one thread for both at a
// trickle, one each under load. Real lanes and threads over in-memory devices.

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <thread>

#include "netpath/unique_fd.hpp"
#include "netpath/worker.hpp"
#include "tests/support/fake_devices.hpp"
#include "tests/support/two_gateways.hpp"

using namespace ipsecfs;
using namespace std::chrono_literals;

namespace {

// Polls (bounded: 2 s) until done() holds; returns whether it did.
template <class Done>
bool eventually(Done done) {
    for (int i = 0; i < 2000; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return done();
}

uint64_t total_drops(const DataplaneStatus& s) {
    uint64_t n = 0;
    for (const auto& d : s.drops)
        n += d.get();
    return n;
}

struct LaneRig {
    testing::GatewayPair gw = testing::make_pair(testing::TunnelSpec{});
    DataplaneStatus status;
    testing::FakeTun tun{"left0"};
    testing::FakeTransport wire, peer;
    netpath::UniqueFd stop{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    std::unique_ptr<netpath::Lanes> lanes;
    std::array<std::thread, netpath::Lanes::kThreads> threads;

    LaneRig() {
        wire.peer = &peer;
        auto made = netpath::Lanes::create(
            {*gw.left.sadb, tun, wire, status, [] { return int64_t{7'000'000'000}; }, stop.get()});
        REQUIRE(made);
        lanes = std::move(*made);
    }
    void start() {
        for (unsigned i = 0; i < threads.size(); ++i)
            threads[i] = std::thread([this, i] { lanes->serve(i); });
    }
    ~LaneRig() {
        const uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(stop.get(), &one, sizeof(one));
        for (auto& t : threads)
            if (t.joinable()) t.join();
    }
    bool merged() {
        const auto h = lanes->homes();
        return h[0] == h[1];
    }
    void one_clear_packet() {
        tun.from_kernel.push(testing::udp_packet("198.51.100.10", "203.0.113.20", 32, 1));
    }
};

}  // namespace

TEST_CASE("the lanes split after a heavy turn and merge after light ones", "[lanes][threads]") {
    LaneRig rig;
    CHECK(rig.merged());  // they start in one thread
    // Queued before the threads start, so the first turn reads a full batch.
    for (std::size_t i = 0; i < netpath::kBatchSize; ++i)
        rig.one_clear_packet();
    rig.start();
    REQUIRE(eventually([&] { return rig.status.packets_out.get() == netpath::kBatchSize; }));
    CHECK(eventually([&] { return !rig.merged(); }));

    // One packet at a time each way, a millisecond apart: light turns of both lanes, until the
    // lanes have been calm long enough to merge (bounded).
    uint64_t sent = 0;
    while (!rig.merged() && sent < 500) {
        ++sent;
        rig.one_clear_packet();
        REQUIRE(
            eventually([&] { return rig.status.packets_out.get() == netpath::kBatchSize + sent; }));
        rig.wire.inbox.push(testing::Bytes(40, 0xee));  // not IP: dropped, a turn all the same
        REQUIRE(eventually([&] { return total_drops(rig.status) == sent; }));
        std::this_thread::sleep_for(1ms);
    }
    CHECK(rig.merged());
    CHECK(sent > 1);  // not at the first light turn: only after a calm spell
    CHECK(rig.peer.inbox.wait_for(netpath::kBatchSize + sent, 1s) == netpath::kBatchSize + sent);
}
