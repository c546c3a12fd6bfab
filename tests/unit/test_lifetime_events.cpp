// The daemon's side of lifetimes: the watcher takes hard-expired SAs out and publishes each
// crossing once; the hook runs per event without making anyone wait; monitor clients get lines.

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "core/lifetime.hpp"
#include "core/sadb.hpp"
#include "mountd/lib/expire_hook.hpp"
#include "mountd/lib/lifetime_watcher.hpp"
#include "mountd/lib/monitor_hub.hpp"
#include "tests/support/core_helpers.hpp"

using namespace ipsecfs;
using namespace ipsecfs::mountd;
using ipsecfs::testing::command;
using ipsecfs::testing::said;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kSecond = 1'000'000'000;

struct Rig {
    int64_t now = 1'700'000'000 * kSecond;
    Sadb sadb{[this] {
        Sadb::Environment env;
        env.now_ns = [this] { return now; };
        return env;
    }()};
    std::vector<LifeEvent> events;
    LifetimeWatcher watcher{sadb, [this] { return now; },
                            [this](const LifeEvent& e) { events.push_back(e); },
                            LifetimeWatcher::Options{}};

    void run(const std::string& line) {
        INFO(line);
        REQUIRE(sadb.apply(command(line)).ok());
    }
};

const std::string kKey = " --enckey 0x000102030405060708090a0b0c0d0e0f10111213";

}  // namespace

TEST_CASE("the watcher removes a hard-expired SA with its group, and says so once",
          "[lifetime][control]") {
    Rig rig;
    rig.run("spi --said esp.1000@192.0.2.2 --esp aes128gcm16" + kKey +
            " --life soft-addtime=2,hard-addtime=5");
    rig.run("spi --said tun.1001@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2");
    rig.run("spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2");
    rig.run("spi --said esp.2000@192.0.2.2 --esp aes128gcm16" + kKey);
    rig.watcher.pass();
    CHECK(rig.events.empty());

    rig.now += 2 * kSecond;
    rig.watcher.pass();
    REQUIRE(rig.events.size() == 1);
    CHECK(rig.events[0].level == LifeEvent::Level::soft);
    CHECK(rig.sadb.snapshot()->size() == 3);
    rig.watcher.pass();
    CHECK(rig.events.size() == 1);

    rig.now += 3 * kSecond;
    rig.watcher.pass();
    REQUIRE(rig.events.size() == 3);
    CHECK(rig.events[1].level == LifeEvent::Level::hard);
    CHECK(rig.events[1].said == said("esp.1000@192.0.2.2"));
    CHECK(rig.events[1].cause == ExpiryCause::addtime);
    CHECK(rig.events[2].said == said("tun.1001@192.0.2.2"));
    CHECK(rig.events[2].cause == ExpiryCause::group);
    CHECK(rig.events[2].expired_member == said("esp.1000@192.0.2.2"));
    const auto snap = rig.sadb.snapshot();
    CHECK(snap->size() == 1);
    CHECK(snap->find(said("esp.2000@192.0.2.2")));
    rig.watcher.pass();
    CHECK(rig.events.size() == 3);
}

TEST_CASE("an SA replaced before the watcher looks is not taken down", "[lifetime][control]") {
    Rig rig;
    rig.run("spi --said esp.1000@192.0.2.2 --esp aes128gcm16" + kKey + " --life hard-packets=1");
    const SaPtr old = rig.sadb.snapshot()->find_shared(said("esp.1000@192.0.2.2"));
    old->counters().packets.add();
    life_settle(*old, rig.now);
    rig.run("spi --replace --said esp.1000@192.0.2.2 --esp aes128gcm16" + kKey);
    rig.watcher.pass();
    CHECK(rig.events.empty());  // the expired one is no longer in the SADB
    CHECK(rig.sadb.snapshot()->size() == 1);
}

TEST_CASE("the expire hook gets the event in its environment", "[lifetime][control]") {
    char dir[] = "/tmp/ipsecfs-hook-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    const std::string out = std::string(dir) + "/out";
    LifeEvent e;
    e.level = LifeEvent::Level::soft;
    e.said = said("esp.1000@192.0.2.2");
    e.cause = ExpiryCause::packets;
    e.current = 7;
    e.soft = 7;
    {
        ExpireHook hook("echo \"$IPSEC_EVENT $IPSEC_SAID $IPSEC_LIMIT $IPSEC_CURRENT\" >> " + out,
                        5000ms);
        hook.post(e);
        e.level = LifeEvent::Level::hard;
        hook.post(e);
        REQUIRE(hook.wait_idle(5000ms));
        CHECK(hook.stats().runs == 2);
        CHECK(hook.stats().failures == 0);
    }
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str() == "soft esp.1000@192.0.2.2 packets 7\nhard esp.1000@192.0.2.2 packets 7\n");
    ::unlink(out.c_str());
    ::rmdir(dir);
}

TEST_CASE("a slow or failing hook never makes post() wait", "[lifetime][control]") {
    LifeEvent e;
    e.said = said("esp.1000@192.0.2.2");
    SECTION("failing") {
        ExpireHook hook("exit 3", 5000ms);
        hook.post(e);
        REQUIRE(hook.wait_idle(5000ms));
        CHECK(hook.stats().failures == 1);
    }
    SECTION("sleeping past its timeout") {
        ExpireHook hook("sleep 30", 300ms);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 3; ++i)
            hook.post(e);
        CHECK(std::chrono::steady_clock::now() - t0 < 100ms);
        REQUIRE(hook.wait_idle(5000ms));
        CHECK(hook.stats().timeouts == 3);
    }
}

TEST_CASE("monitor clients get every line; one that left is dropped", "[lifetime][control]") {
    int a[2], b[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    MonitorHub hub;
    hub.add(fs::UniqueFd(a[0]));
    hub.add(fs::UniqueFd(b[0]));
    ::close(b[1]);
    hub.publish("soft esp.1000@192.0.2.2");
    CHECK(hub.subscribers() == 1);
    char buf[64] = {};
    const ssize_t n = ::read(a[1], buf, sizeof buf - 1);
    CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "soft esp.1000@192.0.2.2\n");
    ::close(a[1]);
}
