// Lifetimes on the packet path: two gateways back to back, limits on the SAs.

#include <catch2/catch.hpp>
#include <cstring>

#include "core/lifetime.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/processor.hpp"
#include "tests/support/two_gateways.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;
using ipsecfs::testing::TunnelSpec;

namespace {

void make_packet(Packet& p, std::size_t total) {
    auto area = p.reset();
    const std::size_t hlen =
        write_ip_header(area.data(), *IpAddress::parse("198.51.100.10"),
                        *IpAddress::parse("203.0.113.20"), kProtoUdp, total - kIpv4HeaderBytes, 0);
    std::memset(area.data() + hlen, 0x5a, total - hlen);
    p.set_size(total);
}

}  // namespace

TEST_CASE("a hard byte limit stops outbound traffic at the limit", "[processor][lifetime]") {
    TunnelSpec spec;
    auto gw = ipsecfs::testing::make_pair(spec);
    // Replace left's outbound ESP SA with one limited to 1000 clear bytes.
    ipsecfs::testing::apply_or_throw(*gw.left.sadb, [&] {
        std::vector<std::string> a = {"spi",   "--replace", "--said", "esp.1000@192.0.2.2",
                                      "--src", "192.0.2.1", "--life", "hard-bytes=1000"};
        auto o = ipsecfs::testing::esp_options(spec, 1);
        a.insert(a.end(), o.begin(), o.end());
        return a;
    }());
    DataplaneStatus status;
    Processor left(status);
    auto snap = gw.left.sadb->snapshot();
    auto p = std::make_unique<Packet>();
    for (int i = 0; i < 3; ++i) {
        make_packet(*p, 300);
        REQUIRE(left.outbound(*snap, *p, 1'000).ok);
    }
    make_packet(*p, 300);  // 900 + 300 > 1000
    const auto r = left.outbound(*snap, *p, 1'000);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == DropReason::life_expired);
    make_packet(*p, 100);  // would fit, but the SA has expired
    CHECK_FALSE(left.outbound(*snap, *p, 1'000).ok);
    const Sa& esp = *snap->find(*Said::parse("esp.1000@192.0.2.2"));
    CHECK(esp.counters().bytes.get() == 900);
    CHECK(esp.counters().drops[static_cast<std::size_t>(DropReason::life_expired)].get() == 2);
    CHECK(status.drops[static_cast<std::size_t>(DropReason::life_expired)].get() == 2);
    CHECK(esp.counters().life_state.load() == LifeState::expired);
    CHECK(esp.counters().seq.get() == 3);  // no sequence number spent on a refused packet
}

TEST_CASE("a hard packet limit on an inbound SA refuses the next packet", "[processor][lifetime]") {
    TunnelSpec spec;
    spec.extra_left_in = {"--life", "hard-packets=2"};
    auto gw = ipsecfs::testing::make_pair(spec);
    DataplaneStatus ls, rs;
    Processor right(rs), left(ls);
    auto p = std::make_unique<Packet>();
    int delivered = 0;
    for (int i = 0; i < 4; ++i) {
        auto area = p->reset();
        const std::size_t hlen =
            write_ip_header(area.data(), *IpAddress::parse("203.0.113.20"),
                            *IpAddress::parse("198.51.100.10"), kProtoUdp, 64, 0);
        std::memset(area.data() + hlen, 1, 64);
        p->set_size(hlen + 64);
        REQUIRE(right.outbound(*gw.right.sadb->snapshot(), *p, 1'000).ok);
        if (left.inbound(*gw.left.sadb->snapshot(), *p, 2'000).ok) ++delivered;
    }
    CHECK(delivered == 2);
    const Sa& in = *gw.left.sadb->snapshot()->find(*Said::parse("esp.2000@192.0.2.1"));
    CHECK(in.counters().packets.get() == 2);
    CHECK(in.counters().drops[static_cast<std::size_t>(DropReason::life_expired)].get() == 2);
}
