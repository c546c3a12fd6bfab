// SA lifetimes with an injected clock: every limit kind, soft then hard, the boundary packet,
// 0 meaning none, the life(c,s,h) print rules and the per-SA time files.

#include <catch2/catch.hpp>
#include <string>

#include "core/lifetime.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "tests/support/core_helpers.hpp"

using namespace ipsecfs;
using ipsecfs::testing::command;
using ipsecfs::testing::said;

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

struct Db {
    int64_t now = kStart;
    Sadb sadb{[this] {
        Sadb::Environment env;
        env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
        env.now_ns = [this] { return now; };
        return env;
    }()};

    void run(const std::string& line) {
        auto r = sadb.apply(command(line));
        INFO(line);
        REQUIRE(r.ok());
    }
    SaPtr sa(const std::string& s) {
        auto p = sadb.snapshot()->find_shared(said(s));
        REQUIRE(p);
        return p;
    }
    std::vector<LifeEvent> check(const Sa& sa, uint64_t headroom = 0) {
        return life_check(sa, *sadb.snapshot(), now, headroom);
    }
};

const std::string kOut =
    "spi --said esp.1000@192.0.2.2 --esp aes128gcm16 --enckey 0x000102030405060708090a0b0c0d0e0f"
    "10111213";

// One packet of `len` clear bytes through `sa`, as the processor does it.
bool carry(const Sa& sa, uint64_t len, int64_t now) {
    if (!life_admit(sa, len, now)) return false;
    sa.counters().bytes.add(len);
    sa.counters().packets.add();
    sa.counters().mark_used(now);
    life_settle(sa, now);
    return true;
}

}  // namespace

TEST_CASE("a hard packet limit passes the packet that reaches it, not the next", "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-packets=3,hard-packets=5");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    CHECK(sa->has_life_limits());
    for (int i = 0; i < 2; ++i)
        REQUIRE(carry(*sa, 100, db.now));
    CHECK(sa->counters().life_state.load() == LifeState::mature);
    CHECK(db.check(*sa).empty());
    REQUIRE(carry(*sa, 100, db.now));  // the 3rd: soft reached
    CHECK(sa->counters().life_state.load() == LifeState::dying);
    auto events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == LifeEvent::Level::soft);
    CHECK(events[0].cause == ExpiryCause::packets);
    CHECK(events[0].current == 3);
    CHECK(events[0].soft == 3);
    CHECK(events[0].hard == 5);
    CHECK(db.check(*sa).empty());  // announced once
    REQUIRE(carry(*sa, 100, db.now));
    REQUIRE(carry(*sa, 100, db.now));  // the 5th reaches the hard limit and passes
    CHECK(sa->counters().life_state.load() == LifeState::expired);
    CHECK_FALSE(carry(*sa, 100, db.now));  // the 6th does not
    CHECK(sa->counters().packets.get() == 5);
    events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == LifeEvent::Level::hard);
    CHECK(events[0].cause == ExpiryCause::packets);
    CHECK(events[0].current == 5);
    CHECK(db.check(*sa).empty());
}

TEST_CASE("a hard byte limit is never exceeded", "[lifetime]") {
    Db db;
    db.run(kOut + " --life hard-bytes=1000");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    REQUIRE(carry(*sa, 600, db.now));
    SECTION("a packet that would pass the limit is refused and ends the SA") {
        CHECK_FALSE(carry(*sa, 401, db.now));
        CHECK(sa->counters().bytes.get() == 600);
        CHECK(sa->counters().life_state.load() == LifeState::expired);
        CHECK_FALSE(carry(*sa, 1, db.now));
    }
    SECTION("a packet that lands exactly on it passes, and the SA is done") {
        REQUIRE(carry(*sa, 400, db.now));
        CHECK(sa->counters().bytes.get() == 1000);
        CHECK(sa->counters().life_state.load() == LifeState::expired);
        CHECK_FALSE(carry(*sa, 0, db.now));
    }
    const auto events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].cause == ExpiryCause::bytes);
    CHECK(events[0].hard == 1000);
}

TEST_CASE("soft and hard byte limits", "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-bytes=100,hard-bytes=300");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    REQUIRE(carry(*sa, 99, db.now));
    CHECK(db.check(*sa).empty());
    REQUIRE(carry(*sa, 1, db.now));
    const auto soft = db.check(*sa);
    REQUIRE(soft.size() == 1);
    CHECK(soft[0].current == 100);
    CHECK(sa->counters().life_state.load() == LifeState::dying);
}

TEST_CASE("addtime limits count whole seconds since the SA was added", "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-addtime=10,hard-addtime=20");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    db.now += 10 * kSecond - 1;
    CHECK(db.check(*sa).empty());
    CHECK(carry(*sa, 10, db.now));
    db.now += 1;
    auto events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == LifeEvent::Level::soft);
    CHECK(events[0].cause == ExpiryCause::addtime);
    CHECK(events[0].current == 10);
    db.now += 10 * kSecond - 1;
    CHECK(carry(*sa, 10, db.now));  // 19.99 s: still alive
    db.now += 1;
    CHECK_FALSE(carry(*sa, 10, db.now));  // 20 s: the packet path refuses before the watcher
    events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == LifeEvent::Level::hard);
    CHECK(events[0].cause == ExpiryCause::addtime);
}

TEST_CASE("usetime limits start at the first packet", "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-usetime=5,hard-usetime=8");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    db.now += 100 * kSecond;  // unused for long: nothing happens
    CHECK(db.check(*sa).empty());
    CHECK(time_left(*sa, true, db.now) == 8u);
    REQUIRE(carry(*sa, 10, db.now));
    db.now += 5 * kSecond;
    auto events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].cause == ExpiryCause::usetime);
    CHECK(time_left(*sa, false, db.now) == 0u);
    CHECK(time_left(*sa, true, db.now) == 3u);
    db.now += 3 * kSecond;
    events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == LifeEvent::Level::hard);
    CHECK_FALSE(carry(*sa, 10, db.now));
}

TEST_CASE("limits of 0 mean none", "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-bytes=0,hard-bytes=0,hard-packets=0");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    CHECK_FALSE(sa->has_life_limits());
    for (int i = 0; i < 100; ++i)
        REQUIRE(carry(*sa, 1500, db.now));
    db.now += 1'000'000 * kSecond;
    CHECK(db.check(*sa).empty());
    CHECK_FALSE(time_left(*sa, false, db.now).has_value());
    CHECK_FALSE(time_left(*sa, true, db.now).has_value());
}

TEST_CASE("a soft limit equal to the hard one gives both events, soft first", "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-packets=2,hard-packets=2");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    REQUIRE(carry(*sa, 1, db.now));
    REQUIRE(carry(*sa, 1, db.now));
    const auto events = db.check(*sa);
    REQUIRE(events.size() == 2);
    CHECK(events[0].level == LifeEvent::Level::soft);
    CHECK(events[1].level == LifeEvent::Level::hard);
}

TEST_CASE("the sequence space is a hard limit with a soft warning ahead", "[lifetime]") {
    Db db;
    db.run(kOut);
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    CHECK(life_watched(*sa));
    sa->counters().seq.set(0xffffffffull - 1001);
    CHECK(db.check(*sa, 1000).empty());
    sa->counters().seq.set(0xffffffffull - 1000);
    auto events = db.check(*sa, 1000);
    REQUIRE(events.size() == 1);
    CHECK(events[0].cause == ExpiryCause::sequence);
    CHECK(events[0].soft == 0xffffffffull - 1000);
    CHECK(events[0].hard == 0xffffffffull);
    sa->counters().seq.set(0xffffffffull);
    events = db.check(*sa, 1000);
    REQUIRE(events.size() == 1);
    CHECK(events[0].level == LifeEvent::Level::hard);
    CHECK(events[0].cause == ExpiryCause::sequence);
    CHECK_FALSE(life_admit(*sa, 0, db.now));
}

TEST_CASE("inbound SAs have no sequence space to watch", "[lifetime]") {
    Db db;
    db.run(
        "spi --said esp.2000@192.0.2.1 --esp aes128gcm16 --enckey "
        "0x000102030405060708090a0b0c0d0e0f10111213");
    const SaPtr sa = db.sa("esp.2000@192.0.2.1");
    CHECK_FALSE(life_watched(*sa));
    sa->counters().seq.set(0xffffffffull);
    CHECK(db.check(*sa, 1000).empty());
}

TEST_CASE("allocations: the eroute past the hard limit is refused, the soft one warns",
          "[lifetime]") {
    Db db;
    db.run(kOut + " --life soft-allocations=1,hard-allocations=2");
    db.run("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said esp.1000@192.0.2.2");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    auto events = db.check(*sa);
    REQUIRE(events.size() == 1);
    CHECK(events[0].cause == ExpiryCause::allocations);
    CHECK(events[0].current == 1);
    db.run("eroute --add --src 198.51.100.0/24 --dst 203.0.114.0/24 --said esp.1000@192.0.2.2");
    // Replacing an eroute that already names the SA allocates nothing more.
    db.run("eroute --replace --src 198.51.100.0/24 --dst 203.0.114.0/24 --said esp.1000@192.0.2.2");
    const auto third =
        db.sadb.apply(command("eroute --add --src 198.51.100.0/24 --dst 203.0.115.0/24 --said "
                              "esp.1000@192.0.2.2"));
    REQUIRE_FALSE(third.ok());
    CHECK(third.error() == "SA esp.1000@192.0.2.2 reached its hard allocation limit (2 eroutes)");
    CHECK(db.check(*sa).empty());  // reaching the allocation limit ends nothing
    CHECK(sa->counters().life_state.load() == LifeState::dying);
}

TEST_CASE("take_down removes the SA and its whole group, once", "[lifetime]") {
    Db db;
    db.run(kOut);
    db.run("spi --said tun.1001@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2");
    db.run("spi --said esp.3000@192.0.2.2 --esp aes128gcm16 --enckey 0x" + std::string(40, '1'));
    db.run("spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2");
    db.run("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2");
    const SaPtr esp = db.sa("esp.1000@192.0.2.2");
    {
        auto tx = db.sadb.begin();
        CHECK(tx.take_down(esp->said(), esp->id() + 999).empty());  // a replacement: kept
        const auto removed = tx.take_down(esp->said(), esp->id());
        REQUIRE(removed.size() == 2);
        CHECK(removed[0]->said() == said("esp.1000@192.0.2.2"));
        CHECK(removed[1]->said() == said("tun.1001@192.0.2.2"));
        CHECK(tx.take_down(esp->said(), esp->id()).empty());
        tx.commit();
    }
    const auto snap = db.sadb.snapshot();
    CHECK(snap->size() == 1);
    CHECK(snap->groups().empty());
    CHECK(snap->eroutes().size() == 1);  // its packets now drop as no_sa
    CHECK(snap->find(said("esp.3000@192.0.2.2")));
}

TEST_CASE("life items print as the seed page and KLIPS do", "[lifetime][render]") {
    Db db;
    db.run(kOut);
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    const auto line = [&] { return render_spi(*db.sadb.snapshot(), db.now); };
    // Unused: add only (alloc needs a limit; bytes, use and packets need a value).
    CHECK_THAT(line(), Catch::Contains(" life(c,s,h)=add(0,0,0)\n"));
    REQUIRE(carry(*sa, 84, db.now));
    // Used within the first second: use(0,…) shows, as KLIPS showed a stored first-use stamp.
    CHECK_THAT(line(), Catch::Contains(" life(c,s,h)=bytes(84,0,0)add(0,0,0)use(0,0,0)"
                                       "packets(1,0,0) idle=0\n"));
    db.now += 7 * kSecond;
    CHECK_THAT(line(), Catch::Contains("add(7,0,0)use(7,0,0)"));

    Db limited;
    limited.run(kOut + " --life soft-allocations=4,hard-usetime=9,soft-packets=100");
    CHECK_THAT(render_spi(*limited.sadb.snapshot(), limited.now),
               Catch::Contains(" life(c,s,h)=alloc(0,4,0)add(0,0,0)use(0,0,9)packets(0,100,0)\n"));
}

TEST_CASE("state, add_time, use_time and time-left files", "[lifetime][render]") {
    Db db;
    db.run(kOut + " --life soft-addtime=30,hard-addtime=60,hard-usetime=40,soft-packets=1");
    const SaPtr sa = db.sa("esp.1000@192.0.2.2");
    const auto field = [&](SaField f) {
        return render_sa_field(*sa, *db.sadb.snapshot(), f, db.now);
    };
    CHECK(field(SaField::state) == "mature\n");
    CHECK(field(SaField::add_time) == "1700000000\n");
    CHECK(field(SaField::use_time) == "0\n");
    CHECK(field(SaField::soft_time_left) == "30\n");
    CHECK(field(SaField::hard_time_left) == "40\n");  // usetime not started: its whole length
    db.now += 12 * kSecond;
    REQUIRE(carry(*sa, 10, db.now));
    CHECK(field(SaField::state) == "dying\n");
    CHECK(field(SaField::use_time) == "1700000012\n");
    CHECK(field(SaField::soft_time_left) == "18\n");
    CHECK(field(SaField::hard_time_left) == "40\n");
    db.now += 30 * kSecond;
    CHECK(field(SaField::hard_time_left) == "10\n");  // use ends at 52 s, add at 60 s
    db.now += 20 * kSecond;
    CHECK(field(SaField::hard_time_left) == "0\n");

    Db none;
    none.run(kOut);
    const SaPtr plain = none.sa("esp.1000@192.0.2.2");
    CHECK(render_sa_field(*plain, *none.sadb.snapshot(), SaField::soft_time_left, none.now) ==
          "\n");
}

TEST_CASE("events read as one monitor line and as hook variables", "[lifetime]") {
    LifeEvent e;
    e.level = LifeEvent::Level::hard;
    e.said = said("esp.1000@192.0.2.2");
    e.dir = Direction::out;
    e.cause = ExpiryCause::bytes;
    e.current = 4096;
    e.hard = 4096;
    e.at_ns = kStart + 5;
    CHECK(format_life_event(e) ==
          "hard esp.1000@192.0.2.2 dir=out limit=bytes current=4096 soft=0 hard=4096 "
          "time=1700000000");
    const auto env = life_event_environment(e);
    CHECK(std::find(env.begin(), env.end(), "IPSEC_EVENT=hard") != env.end());
    CHECK(std::find(env.begin(), env.end(), "IPSEC_SAID=esp.1000@192.0.2.2") != env.end());
    CHECK(std::find(env.begin(), env.end(), "IPSEC_SPI=0x1000") != env.end());
    CHECK(std::find(env.begin(), env.end(), "IPSEC_LIMIT=bytes") != env.end());
    CHECK(std::find(env.begin(), env.end(), "IPSEC_CURRENT=4096") != env.end());
    e.cause = ExpiryCause::group;
    e.expired_member = said("tun.1001@192.0.2.2");
    CHECK_THAT(format_life_event(e), Catch::EndsWith(" expired=tun.1001@192.0.2.2"));
}
