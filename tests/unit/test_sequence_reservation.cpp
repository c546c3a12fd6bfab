// Outbound sequence numbers reserved ahead in the state file: the packet path never uses a
// number above the durable mark, the writer's policy extends at half, and a packet that finds no
// reserved number is dropped as seq_unreserved.

#include <catch2/catch.hpp>
#include <cstring>

#include "core/outbound_sequence.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/processor.hpp"
#include "netpath/sa_state.hpp"
#include "tests/support/two_gateways.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

constexpr uint64_t kLast32 = OutboundSequence::kLast32;
constexpr uint64_t kBlock = SequenceReservation::kMinBlock;

void make_udp(Packet& p) {
    const auto src = *IpAddress::parse("198.51.100.10");
    const auto dst = *IpAddress::parse("203.0.113.20");
    auto area = p.reset();
    const std::size_t hlen = write_ip_header(area.data(), src, dst, kProtoUdp, 8 + 32, 0);
    std::memset(area.data() + hlen, 0, 8 + 32);
    area[hlen + 5] = 8 + 32;
    p.set_size(hlen + 8 + 32);
}

}  // namespace

TEST_CASE("a reserved sequence never hands out a number above the mark", "[reservation]") {
    SequenceReservation r(10);
    OutboundSequence s(false, 5, &r);
    for (uint64_t want = 6; want <= 10; ++want)
        CHECK(s.next() == std::optional<uint64_t>(want));
    CHECK(s.next() == std::nullopt);
    CHECK(s.next() == std::nullopt);
    CHECK_FALSE(s.exhausted());  // unreserved, not used up
    CHECK(s.last() == 10);
    r.extend_to(12);
    CHECK(s.next() == std::optional<uint64_t>(11));
    r.extend_to(8);  // a lower mark changes nothing
    CHECK(r.mark() == 12);
    CHECK(s.next() == std::optional<uint64_t>(12));
    CHECK(s.next() == std::nullopt);

    // The limit still wins over a mark beyond it.
    SequenceReservation beyond(UINT64_MAX);
    OutboundSequence end(false, kLast32 - 1, &beyond);
    CHECK(end.next() == std::optional<uint64_t>(kLast32));
    CHECK(end.next() == std::nullopt);
    CHECK(end.exhausted());

    // Nothing reserved yet: not even number 1.
    SequenceReservation none(0);
    OutboundSequence fresh(true, 0, &none);
    CHECK(fresh.next() == std::nullopt);
    CHECK(fresh.last() == 0);
}

TEST_CASE("the writer extends at half, by a block sized by the rate", "[reservation]") {
    using R = SequenceReservation;
    // A new SA (mark = last) is due at once.
    CHECK(R::due(0, 0, kBlock, kLast32));
    CHECK(R::extended(0, 0, kBlock, kLast32) == kBlock);
    // Due once half of the block is used, not before.
    CHECK_FALSE(R::due(kBlock / 2 - 1, kBlock, kBlock, kLast32));
    CHECK(R::due(kBlock / 2, kBlock, kBlock, kLast32));
    CHECK(R::extended(kBlock / 2, kBlock, kBlock, kLast32) == kBlock / 2 + kBlock);
    // Never lowers the mark, never passes the limit; a mark at the limit needs nothing more.
    CHECK(R::extended(10, 1000000, kBlock, kLast32) == 1000000);
    CHECK(R::extended(kLast32 - 5, kLast32 - 3, kBlock, kLast32) == kLast32);
    CHECK_FALSE(R::due(kLast32 - 1, kLast32, kBlock, kLast32));
    CHECK(R::extended(UINT64_MAX - 5, UINT64_MAX - 3, kBlock, UINT64_MAX) == UINT64_MAX);
    // Half a block lasts at least a second at the measured rate.
    CHECK(R::block_for_rate(0) == kBlock);
    CHECK(R::block_for_rate(32768) == kBlock);
    CHECK(R::block_for_rate(32769) == 2 * kBlock);
    CHECK(R::block_for_rate(1'000'000) == uint64_t{1} << 21);
    CHECK(R::block_for_rate(UINT64_MAX / 3) == R::kMaxBlock);
    for (uint64_t rate : {1ull, 1000ull, 50'000ull, 300'000ull, 4'000'000ull}) {
        const uint64_t b = R::block_for_rate(rate);
        CHECK(b / 2 >= rate);
        CHECK(b >= R::kMinBlock);
        CHECK(b <= R::kMaxBlock);
    }
}

TEST_CASE("an outbound packet without a reserved number is dropped as seq_unreserved",
          "[reservation][processor]") {
    using namespace ipsecfs::testing;
    TunnelSpec spec;
    Gateway left;
    left.addr = "192.0.2.1";
    Sadb::Environment env;
    env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
    env.make_runtime = Engine::make_reserved_runtime;
    left.sadb = std::make_unique<Sadb>(std::move(env));
    Gateway right = make_gateway("192.0.2.2");
    configure(left, right, spec, true);
    configure(right, left, spec, false);

    const auto ls = left.sadb->snapshot();
    const Sa& esp = *ls->find(*Said::parse("esp.1000@192.0.2.2"));
    SaState* st = state_of(esp);
    REQUIRE(st);
    REQUIRE(st->reservation());
    CHECK(st->reservation()->mark() == 0);
    // The inbound SAs need no reservation.
    CHECK_FALSE(state_of(*ls->find(*Said::parse("esp.2000@192.0.2.1")))->reservation());

    DataplaneStatus left_status, right_status;
    Processor sender(left_status), receiver(right_status);
    auto p = std::make_unique<Packet>();
    const auto rs = right.sadb->snapshot();
    auto send = [&] {
        make_udp(*p);
        Outcome out = sender.outbound(*ls, *p, 1);
        if (!out.ok) return out;
        if (!receiver.inbound(*rs, *p, 2).ok) FAIL("the receiver refused a packet");
        return out;
    };
    const auto unreserved = static_cast<std::size_t>(DropReason::seq_unreserved);
    CHECK(send().reason == DropReason::seq_unreserved);
    CHECK(esp.counters().drops[unreserved].get() == 1);
    CHECK(left_status.drops[unreserved].get() == 1);
    CHECK(esp.counters().seq.get() == 0);

    st->reservation()->extend_to(3);
    for (int i = 0; i < 3; ++i)
        CHECK(send().ok);
    CHECK(send().reason == DropReason::seq_unreserved);
    CHECK(esp.counters().seq.get() == 3);
    CHECK(rs->find(*Said::parse("esp.1000@192.0.2.2"))->counters().seq.get() == 3);
    CHECK(esp.counters().drops[unreserved].get() == 2);
    CHECK(esp.counters().drops[static_cast<std::size_t>(DropReason::seq_exhausted)].get() == 0);
}
