#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs {
namespace {

using testing::command;
using testing::ip;
using testing::said;

constexpr int64_t kSecond = 1'000'000'000;

std::string hex(std::size_t bytes) {
    return "0x" + std::string(bytes * 2, 'b');
}

// A SADB whose host owns 192.0.2.1, 192.168.43.2 and 3049:1::1, with a clock the test moves.
struct Db {
    int64_t now = 1000 * kSecond;
    std::set<IpAddress> local{ip("192.0.2.1"), ip("192.168.43.2"), ip("3049:1::1")};
    Sadb db;

    explicit Db(uint32_t default_window = kDefaultReplayWindow) : db(environment(default_window)) {}

    Sadb::Environment environment(uint32_t default_window = kDefaultReplayWindow) {
        Sadb::Environment env;
        env.now_ns = [this] { return now; };
        env.is_local = [this](const IpAddress& a) { return local.count(a) != 0; };
        env.default_replay_window = default_window;
        return env;
    }

    Result<void> apply(const std::string& line) { return db.apply(command(line)); }
    void must(const std::string& line) {
        auto r = apply(line);
        INFO(line << "\n  -> " << (r.ok() ? std::string("ok") : r.error()));
        REQUIRE(r.ok());
    }
    std::string error(const std::string& line) {
        auto r = apply(line);
        INFO(line);
        REQUIRE_FALSE(r.ok());
        return r.error();
    }
    const Sa* find(const std::string& s) const { return db.snapshot()->find(said(s)); }
};

std::string esp_in(const std::string& spi) {  // inbound: 192.0.2.1 is local
    return "spi --said esp." + spi + "@192.0.2.1 --src 192.0.2.2 --esp aes128-sha1-96 --enckey " +
           hex(16) + " --authkey " + hex(20);
}
std::string esp_out(const std::string& spi) {
    return "spi --said esp." + spi + "@192.0.2.2 --src 192.0.2.1 --esp aes128-sha1-96 --enckey " +
           hex(16) + " --authkey " + hex(20);
}
std::string tun_out(const std::string& spi) {
    return "spi --said tun." + spi + "@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2";
}
std::string tun_in(const std::string& spi) {
    return "spi --said tun." + spi + "@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1";
}

}  // namespace

TEST_CASE("add, replace, delete, clear", "[core][sadb]") {
    Db d;
    CHECK(d.db.snapshot()->size() == 0);
    const uint64_t g0 = d.db.generation();
    d.must(esp_out("1000"));
    CHECK(d.db.generation() > g0);
    const SadbSnapshotPtr first = d.db.snapshot();
    REQUIRE(first->size() == 1);
    const Sa* sa = d.find("esp.1000@192.0.2.2");
    REQUIRE(sa);
    CHECK(sa->said().str() == "esp.1000@192.0.2.2");
    CHECK(sa->added_ns() == 1000 * kSecond);
    const uint64_t id = sa->id();

    // an existing SA is refused unless replaced
    CHECK_THAT(d.error(esp_out("1000")), Catch::Contains("already exists") &&
                                             Catch::Contains("esp.1000@192.0.2.2") &&
                                             Catch::Contains("--replace"));
    CHECK(d.find("esp.1000@192.0.2.2")->id() == id);
    d.now += 5 * kSecond;
    d.must(esp_out("1000") + " --replace");
    const Sa* replaced = d.find("esp.1000@192.0.2.2");
    REQUIRE(replaced);
    CHECK(replaced->id() != id);
    CHECK(replaced->added_ns() == 1005 * kSecond);
    CHECK(d.db.snapshot()->size() == 1);
    // --replace of a missing SA simply adds it
    d.must(esp_out("1001") + " --replace");
    CHECK(d.db.snapshot()->size() == 2);
    // the old snapshot is untouched
    CHECK(first->size() == 1);
    CHECK(first->find(said("esp.1000@192.0.2.2"))->id() == id);

    d.must("spi --said esp.1001@192.0.2.2 --del");
    CHECK_FALSE(d.find("esp.1001@192.0.2.2"));
    CHECK_THAT(d.error("spi --said esp.1001@192.0.2.2 --del"),
               Catch::Contains("does not exist") && Catch::Contains("esp.1001@192.0.2.2"));
    CHECK_THAT(d.error("spi --said ah.1000@192.0.2.2 --del"), Catch::Contains("does not exist"));

    d.must(tun_out("1002"));
    d.must("spi --said comp.1003@192.0.2.2 --comp deflate");
    CHECK(d.db.snapshot()->size() == 3);
    d.must("spi --clear");
    CHECK(d.db.snapshot()->size() == 0);
    CHECK(d.db.snapshot()->sas().empty());
    // clearing an empty SADB is fine
    d.must("spi --clear");
}

TEST_CASE("every SA gets a unique id", "[core][sadb]") {
    Db d;
    std::set<uint64_t> ids;
    for (int i = 0; i < 10; ++i) {
        d.must(esp_out("1000") + " --replace");
        ids.insert(d.find("esp.1000@192.0.2.2")->id());
        d.must(esp_out("2000") + " --replace");
        ids.insert(d.find("esp.2000@192.0.2.2")->id());
    }
    CHECK(ids.size() == 20);
}

TEST_CASE("direction comes from is_local; replay windows only inbound", "[core][sadb]") {
    Db d(64);

    d.must(esp_in("1000"));
    d.must(esp_out("1000"));
    d.must(esp_in("1001") + " --replay_window 16");
    d.must(esp_out("1001") + " --replay_window 16");
    d.must("spi --said ah.1000@192.0.2.1 --ah hmac-sha1-96 --authkey " + hex(20));
    d.must("spi --said ah.1000@192.0.2.2 --ah hmac-sha1-96 --authkey " + hex(20));
    d.must(tun_in("1002"));
    d.must(tun_out("1002"));
    d.must("spi --said comp.1003@192.0.2.1 --comp deflate");
    d.must("spi --said esp:1000@3049:1::1 --esp aes128gcm16 --enckey " + hex(20));
    d.must("spi --said esp:1000@3049:1::2 --esp aes128gcm16 --enckey " + hex(20));

    const auto check = [&](const std::string& s, Direction dir, uint32_t window) {
        INFO(s);
        const Sa* sa = d.find(s);
        REQUIRE(sa);
        CHECK(sa->config().dir == dir);
        CHECK(sa->config().replay_window == window);
    };
    check("esp.1000@192.0.2.1", Direction::in, 64);
    check("esp.1000@192.0.2.2", Direction::out, 0);
    check("esp.1001@192.0.2.1", Direction::in, 16);
    check("esp.1001@192.0.2.2", Direction::out, 0);
    check("ah.1000@192.0.2.1", Direction::in, 64);
    check("ah.1000@192.0.2.2", Direction::out, 0);
    check("tun.1002@192.0.2.1", Direction::in, 0);
    check("tun.1002@192.0.2.2", Direction::out, 0);
    check("comp.1003@192.0.2.1", Direction::in, 0);
    check("esp:1000@3049:1::1", Direction::in, 64);
    check("esp:1000@3049:1::2", Direction::out, 0);

    // the documented default is 32
    CHECK(Sadb::Environment{}.default_replay_window == 32);
    Db plain;
    plain.must(esp_in("1000"));
    CHECK(plain.find("esp.1000@192.0.2.1")->config().replay_window == 32);
}

TEST_CASE("lookup by SAID for IPv4 and IPv6", "[core][sadb]") {
    Db d;
    d.must(esp_out("1000"));
    d.must("spi --said esp:1000@2001:db8::2 --esp aes256gcm16 --enckey " + hex(36));
    d.must("spi --said ah:1000@2001:db8::2 --ah hmac-md5-96 --authkey " + hex(16));
    const auto snap = d.db.snapshot();
    CHECK(snap->find(said("esp.1000@192.0.2.2")));
    CHECK(snap->find(said("esp0x1000@192.0.2.2")) == snap->find(said("esp.1000@192.0.2.2")));
    const Sa* six = snap->find(said("esp:1000@2001:db8:0::2"));
    REQUIRE(six);
    CHECK(six->config().xform == *parse_esp_name("aes256gcm16"));
    CHECK(snap->find(said("ah:1000@2001:db8::2")) != six);
    CHECK_FALSE(snap->find(said("esp:1001@2001:db8::2")));
    CHECK_FALSE(snap->find(said("esp.1000@192.0.2.3")));
    CHECK_FALSE(snap->find(said("ah.1000@192.0.2.2")));
    // IPv4 and IPv6 never collide
    CHECK_FALSE(snap->find(said("esp:1000@::ffff:192.0.2.2")));
    CHECK(snap->find_shared(said("esp.1000@192.0.2.2")).get() ==
          snap->find(said("esp.1000@192.0.2.2")));
    CHECK_FALSE(snap->find_shared(said("esp.1001@192.0.2.2")));
    // SAID order
    std::vector<std::string> order;
    for (const auto& [s, sa] : snap->sas())
        order.push_back(s.str());
    CHECK(order == std::vector<std::string>{"esp.1000@192.0.2.2", "esp:1000@2001:db8::2",
                                            "ah:1000@2001:db8::2"});
}

TEST_CASE("eroutes: longest-prefix match", "[core][sadb]") {
    Db d;
    for (const char* spi : {"1001", "1002", "1003", "1004", "1005"})
        d.must(tun_out(spi));
    d.must("spi --said tun:1006@2001:db8::2 --ip6");
    d.must("eroute --add --src 0.0.0.0/0 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2");
    d.must("eroute --add --src 0.0.0.0/0 --dst 203.0.113.7/32 --said tun.1002@192.0.2.2");
    d.must("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.1003@192.0.2.2");
    d.must("eroute --add --src 198.51.100.0/24 --dst 0.0.0.0/0 --said tun.1004@192.0.2.2");
    d.must("eroute --add --src 198.51.100.128/25 --dst 203.0.113.0/25 --said tun.1005@192.0.2.2");
    d.must("eroute --add --src ::/0 --dst 2001:db8:5::/48 --said tun:1006@2001:db8::2");

    const auto snap = d.db.snapshot();
    const auto via = [&](const std::string& src, const std::string& dst) -> std::string {
        const Eroute* e = snap->route(ip(src), ip(dst));
        return e ? e->said.str() : "none";
    };
    // a /32 beats a /24
    CHECK(via("192.0.2.200", "203.0.113.7") == "tun.1002@192.0.2.2");
    CHECK(via("192.0.2.200", "203.0.113.8") == "tun.1001@192.0.2.2");
    // more specific destination first, then source
    CHECK(via("198.51.100.1", "203.0.113.7") == "tun.1002@192.0.2.2");
    CHECK(via("198.51.100.1", "203.0.113.8") == "tun.1003@192.0.2.2");
    CHECK(via("198.51.100.200", "203.0.113.8") == "tun.1005@192.0.2.2");
    CHECK(via("198.51.100.200", "203.0.113.200") == "tun.1003@192.0.2.2");
    CHECK(via("198.51.100.1", "8.8.8.8") == "tun.1004@192.0.2.2");
    // no match
    CHECK(via("192.0.2.200", "8.8.8.8") == "none");
    // IPv4 and IPv6 never cross-match
    CHECK(via("2001:db8::1", "2001:db8:5::9") == "tun:1006@2001:db8::2");
    CHECK(via("2001:db8::1", "2001:db8:6::9") == "none");
    CHECK(via("::ffff:198.51.100.1", "::ffff:203.0.113.7") == "none");
    CHECK(via("::", "::ffff:203.0.113.7") == "none");
    CHECK(via("0.0.0.0", "0.0.0.0") == "none");
    CHECK(via("198.51.100.1", "2001:db8:5::9") == "none");
    CHECK(via("2001:db8::1", "203.0.113.7") == "none");

    CHECK(snap->eroutes().size() == 6);
    CHECK(snap->allocations(said("tun.1001@192.0.2.2")) == 1);

    // replace, delete, clear
    CHECK_THAT(d.error("eroute --add --src 0.0.0.0/0 --dst 203.0.113.7/32 --said "
                       "tun.1001@192.0.2.2"),
               Catch::Contains("already exists"));
    d.must("eroute --replace --src 0.0.0.0/0 --dst 203.0.113.7/32 --said tun.1001@192.0.2.2");
    CHECK(d.db.snapshot()->route(ip("192.0.2.200"), ip("203.0.113.7"))->said.str() ==
          "tun.1001@192.0.2.2");
    CHECK(d.db.snapshot()->eroutes().size() == 6);
    d.must("eroute --del --src 0.0.0.0/0 --dst 203.0.113.7/32");
    CHECK(d.db.snapshot()->eroutes().size() == 5);
    CHECK(d.db.snapshot()->route(ip("192.0.2.200"), ip("203.0.113.7"))->said.str() ==
          "tun.1001@192.0.2.2");
    CHECK_THAT(d.error("eroute --del --src 0.0.0.0/0 --dst 203.0.113.7/32"),
               Catch::Contains("does not exist"));
    d.must("eroute --clear");
    CHECK(d.db.snapshot()->eroutes().empty());
    CHECK_FALSE(d.db.snapshot()->route(ip("198.51.100.1"), ip("203.0.113.8")));
    // the old snapshot still routes
    CHECK(via("198.51.100.1", "203.0.113.8") == "tun.1003@192.0.2.2");
}

TEST_CASE("eroutes need their SA; allocations count them", "[core][sadb]") {
    Db d;
    CHECK_THAT(d.error("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
                       "tun.1001@192.0.2.2"),
               Catch::Contains("does not exist") && Catch::Contains("tun.1001@192.0.2.2"));
    CHECK(d.db.snapshot()->eroutes().empty());
    d.must(tun_out("1001"));
    d.must("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2");
    d.must("eroute --add --src 198.51.100.0/24 --dst 203.0.114.0/24 --said tun.1001@192.0.2.2");
    d.must("eroute --add --src 198.51.101.0/24 --dst 203.0.114.0/24 --said tun.1001@192.0.2.2");
    CHECK(d.db.snapshot()->allocations(said("tun.1001@192.0.2.2")) == 3);
    CHECK(d.db.snapshot()->allocations(said("tun.1002@192.0.2.2")) == 0);
    d.must("eroute --del --src 198.51.101.0/24 --dst 203.0.114.0/24");
    CHECK(d.db.snapshot()->allocations(said("tun.1001@192.0.2.2")) == 2);
}

TEST_CASE("eroute --addin sets the inbound policy of the tunnel SA", "[core][sadb]") {
    Db d;
    d.must(tun_in("1001"));
    d.must(esp_in("1000"));
    d.must("spigrp --said tun.1001@192.0.2.1 esp.1000@192.0.2.1");
    // naming the group's outer SA finds the group's tun SA
    d.must("eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said esp.1000@192.0.2.1");
    const auto snap = d.db.snapshot();
    const Sa* tun = snap->find(said("tun.1001@192.0.2.1"));
    const Sa* esp = snap->find(said("esp.1000@192.0.2.1"));
    REQUIRE(snap->policy_of(tun->said()));
    CHECK(snap->policy_of(tun->said())->src.str() == "203.0.113.0/24");
    CHECK(snap->policy_of(tun->said())->dst.str() == "198.51.100.0/24");
    CHECK_FALSE(snap->policy_of(esp->said()));
    CHECK(sa_flags(*tun, *snap) == kSaFlagInflow);
    CHECK(sa_flags(*esp, *snap) == 0);
    std::string line;
    append_spi_line(line, *tun, *snap, d.now);
    CHECK_THAT(line, Catch::Contains(" policy=203.0.113.0/24->198.51.100.0/24 ") &&
                         Catch::Contains(" flags=0x8<> "));
    // --addin is not an outbound eroute
    CHECK(snap->eroutes().empty());
    CHECK(snap->allocations(tun->said()) == 0);

    CHECK_THAT(d.error("eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said "
                       "tun.1001@192.0.2.1"),
               Catch::Contains("already has an inbound policy"));
    d.must(
        "eroute --replacein --src 203.0.114.0/24 --dst 198.51.100.0/24 --said tun.1001@192.0.2.1");
    CHECK(d.db.snapshot()->policy_of(said("tun.1001@192.0.2.1"))->src.str() == "203.0.114.0/24");

    // an esp SA alone has no tunnel to hold a policy; outbound tunnels have no inbound policy
    d.must(esp_in("2000"));
    CHECK_THAT(d.error("eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said "
                       "esp.2000@192.0.2.1"),
               Catch::Contains("tun SA"));
    d.must(tun_out("1001"));
    CHECK_THAT(d.error("eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said "
                       "tun.1001@192.0.2.2"),
               Catch::Contains("outbound"));
    CHECK_THAT(d.error("eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said "
                       "tun.1009@192.0.2.1"),
               Catch::Contains("does not exist"));

    // deleting the SA drops its policy
    d.must("spi --said tun.1001@192.0.2.1 --del");
    CHECK_FALSE(d.db.snapshot()->policy_of(said("tun.1001@192.0.2.1")));
    d.must(tun_in("1001"));
    CHECK_FALSE(d.db.snapshot()->policy_of(said("tun.1001@192.0.2.1")));
}

TEST_CASE("spi --policy on tun SAs", "[core][sadb]") {
    Db d;
    d.must(tun_in("1001") + " --policy 203.0.113.0/24->198.51.100.0/24");
    const auto snap = d.db.snapshot();
    REQUIRE(snap->policy_of(said("tun.1001@192.0.2.1")));
    CHECK(snap->policy_of(said("tun.1001@192.0.2.1"))->dst.str() == "198.51.100.0/24");
    CHECK_THAT(d.error(tun_out("1001") + " --policy 203.0.113.0/24->198.51.100.0/24"),
               Catch::Contains("inbound"));
    CHECK_FALSE(d.find("tun.1001@192.0.2.2"));

    // a replaced SA keeps only the policy it is given
    d.must(tun_in("1001") + " --replace");
    CHECK_FALSE(d.db.snapshot()->policy_of(said("tun.1001@192.0.2.1")));
    d.must(tun_in("1001") + " --replace --policy 203.0.113.0/25->198.51.100.0/24");
    CHECK(d.db.snapshot()->policy_of(said("tun.1001@192.0.2.1"))->src.str() == "203.0.113.0/25");
}

TEST_CASE("spigrp", "[core][sadb]") {
    Db d;
    d.must(tun_out("1001"));
    d.must("spi --said comp.1002@192.0.2.2 --comp deflate");
    d.must(esp_out("1003"));
    d.must("spi --said ah.1004@192.0.2.2 --ah hmac-sha1-96 --authkey " + hex(20));
    d.must(esp_out("1005"));
    d.must(esp_in("1006"));

    CHECK_THAT(d.error("spigrp --said tun.1001@192.0.2.2 esp.1009@192.0.2.2"),
               Catch::Contains("does not exist") && Catch::Contains("esp.1009@192.0.2.2"));
    CHECK_THAT(d.error("spigrp --said tun.1001@192.0.2.2 tun.1001@192.0.2.2"),
               Catch::Contains("twice"));
    CHECK_THAT(d.error("spigrp --said tun.1001@192.0.2.2 esp.1006@192.0.2.1"),
               Catch::Contains("inbound or all outbound"));
    {
        Spigrp five;
        for (const char* s : {"tun.1001@192.0.2.2", "comp.1002@192.0.2.2", "esp.1003@192.0.2.2",
                              "ah.1004@192.0.2.2", "esp.1005@192.0.2.2"})
            five.saids.push_back(said(s));
        auto r = d.db.apply(five);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error(), Catch::Contains("1 to 4"));
        auto none = d.db.apply(Spigrp{});
        CHECK_FALSE(none.ok());
    }
    CHECK(d.db.snapshot()->groups().empty());

    d.must(
        "spigrp --said tun.1001@192.0.2.2 comp.1002@192.0.2.2 esp.1003@192.0.2.2 "
        "ah.1004@192.0.2.2");
    auto snap = d.db.snapshot();
    REQUIRE(snap->groups().size() == 1);
    const SaGroup* g = snap->group_of(said("esp.1003@192.0.2.2"));
    REQUIRE(g);
    CHECK(g == snap->group_of(said("tun.1001@192.0.2.2")));
    CHECK(g->complete());
    REQUIRE(g->members.size() == 4);
    CHECK(g->members[0]->said().str() == "tun.1001@192.0.2.2");
    CHECK(g->members[3]->said().str() == "ah.1004@192.0.2.2");
    CHECK_FALSE(snap->group_of(said("esp.1005@192.0.2.2")));
    CHECK(render_spigrp(*snap) ==
          "tun.1001@192.0.2.2 comp.1002@192.0.2.2 esp.1003@192.0.2.2 ah.1004@192.0.2.2 \n");

    // deleting a member breaks the group; adding the SA again heals it
    d.must("spi --said esp.1003@192.0.2.2 --del");
    snap = d.db.snapshot();
    g = snap->group_of(said("tun.1001@192.0.2.2"));
    REQUIRE(g);
    CHECK_FALSE(g->complete());
    CHECK(g->members.empty());
    CHECK(g->saids.size() == 4);
    d.must(esp_out("1003"));
    snap = d.db.snapshot();
    g = snap->group_of(said("tun.1001@192.0.2.2"));
    REQUIRE(g);
    CHECK(g->complete());
    REQUIRE(g->members.size() == 4);
    CHECK(g->members[2].get() == snap->find(said("esp.1003@192.0.2.2")));

    // a replaced member is picked up by the group
    d.must(esp_out("1003") + " --replace");
    snap = d.db.snapshot();
    CHECK(snap->group_of(said("tun.1001@192.0.2.2"))->members[2].get() ==
          snap->find(said("esp.1003@192.0.2.2")));

    // regrouping an SA takes it out of its old group; one SAID ungroups
    d.must("spigrp --said tun.1001@192.0.2.2 esp.1005@192.0.2.2");
    snap = d.db.snapshot();
    REQUIRE(snap->groups().size() == 1);
    CHECK_FALSE(snap->group_of(said("esp.1003@192.0.2.2")));
    CHECK(snap->group_of(said("esp.1005@192.0.2.2"))->members.size() == 2);
    d.must("spigrp --said esp.1005@192.0.2.2");
    CHECK(d.db.snapshot()->groups().empty());
    CHECK_FALSE(d.db.snapshot()->group_of(said("tun.1001@192.0.2.2")));

    // the positional form
    d.must("spigrp inet 192.0.2.2 0x1001 tun inet 192.0.2.2 0x1003 esp");
    CHECK(d.db.snapshot()->group_of(said("esp.1003@192.0.2.2"))->complete());
    d.must("spi --clear");
    CHECK(d.db.snapshot()->groups().empty());
}

TEST_CASE("transactions are all or nothing", "[core][sadb]") {
    Db d;
    d.must(esp_out("1000"));
    const auto before = d.db.snapshot();
    const uint64_t generation = d.db.generation();
    {
        auto tx = d.db.begin();
        CHECK(tx.apply(command(esp_out("1001"))).ok());
        CHECK(tx.apply(command(tun_out("1002"))).ok());
        CHECK(tx.apply(command("spi --said esp.1000@192.0.2.2 --del")).ok());
        // a failing command leaves the rest of the pending state as it was
        CHECK_FALSE(tx.apply(command(esp_out("1001"))).ok());
        CHECK_FALSE(tx.apply(command("spi --said esp.1000@192.0.2.2 --del")).ok());
        CHECK_FALSE(tx.apply(command("spi")).ok());
        CHECK_FALSE(tx.apply(command("look")).ok());
        // not committed: nothing changes
    }
    CHECK(d.db.snapshot() == before);
    CHECK(d.db.generation() == generation);
    CHECK(d.find("esp.1000@192.0.2.2"));
    CHECK_FALSE(d.find("esp.1001@192.0.2.2"));

    {
        auto tx = d.db.begin();
        CHECK(tx.apply(command(esp_out("1001"))).ok());
        CHECK_FALSE(tx.apply(command(esp_out("1001"))).ok());
        CHECK(tx.apply(command(tun_out("1002"))).ok());
        // the transaction sees its own changes
        CHECK(tx.apply(command("spigrp --said tun.1002@192.0.2.2 esp.1001@192.0.2.2")).ok());
        CHECK(tx.apply(command("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
                               "tun.1002@192.0.2.2"))
                  .ok());
        tx.commit();
    }
    const auto after = d.db.snapshot();
    CHECK(after->size() == 3);
    CHECK(after->generation() > generation);
    CHECK(after->group_of(said("tun.1002@192.0.2.2"))->complete());
    CHECK(after->route(ip("198.51.100.1"), ip("203.0.113.1")));
    CHECK(before->size() == 1);

    // a committed transaction is closed: the snapshot it published never changes
    auto tx = d.db.begin();
    REQUIRE(tx.apply(command(esp_out("2000"))).ok());
    tx.commit();
    const auto published = d.db.snapshot();
    CHECK_THAT(tx.apply(command(esp_out("2001"))).error(), Catch::Contains("committed"));
    tx.commit();
    CHECK(published->size() == 4);
    CHECK(d.db.snapshot() == published);
    // and the database is free for the next one
    d.must(esp_out("2001"));
    CHECK(d.db.snapshot()->size() == 5);
}

TEST_CASE("on_commit sees the state before and after", "[core][sadb]") {
    Db d;
    std::vector<std::pair<std::size_t, std::size_t>> calls;
    auto env = d.environment();
    env.on_commit = [&](const SadbSnapshot& before, const SadbSnapshot& after) {
        calls.emplace_back(before.size(), after.size());
        CHECK(after.generation() > before.generation());
    };
    Sadb db(env);
    REQUIRE(db.apply(command(esp_out("1000"))).ok());
    REQUIRE(db.apply(command(esp_out("1001"))).ok());
    REQUIRE_FALSE(db.apply(command(esp_out("1001"))).ok());
    REQUIRE(db.apply(command("spi --clear")).ok());
    CHECK(calls == std::vector<std::pair<std::size_t, std::size_t>>{{0, 1}, {1, 2}, {2, 0}});
    {
        auto tx = db.begin();
        REQUIRE(tx.apply(command(esp_out("1000"))).ok());
    }
    CHECK(calls.size() == 3);
}

TEST_CASE("make_runtime can refuse an SA", "[core][sadb]") {
    Db d;
    auto env = d.environment();
    int built = 0;
    env.make_runtime = [&](const Sa& sa) -> Result<std::unique_ptr<SaRuntime>> {
        if (sa.said().proto == SaProto::comp) return fail("no deflate here");
        ++built;
        return std::make_unique<SaRuntime>();
    };
    Sadb db(env);
    REQUIRE(db.apply(command(esp_out("1000"))).ok());
    CHECK(built == 1);
    CHECK(db.snapshot()->find(said("esp.1000@192.0.2.2"))->runtime() != nullptr);
    auto r = db.apply(command("spi --said comp.1000@192.0.2.2 --comp deflate"));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("comp.1000@192.0.2.2") && Catch::Contains("no deflate"));
    CHECK(db.snapshot()->size() == 1);
}

TEST_CASE("the SADB checks configurations built without the parser", "[core][sadb]") {
    Db d;
    SpiAdd add;
    add.config.said = said("esp.1000@192.0.2.2");
    add.config.xform = *parse_esp_name("3des-md5-96");
    add.config.src = ip("192.0.2.1");
    add.config.enc_key.assign(24, 1);
    add.config.auth_key.assign(15, 1);
    auto r = d.db.apply(add);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("--authkey") && Catch::Contains("16 bytes"));
    add.config.auth_key.assign(16, 1);
    add.config.xform = *parse_ah_name("hmac-md5-96");
    CHECK_THAT(d.db.apply(add).error(), Catch::Contains("esp") && Catch::Contains("ah"));
    add.config.xform = *parse_esp_name("3des-md5-96");
    add.config.replay_window = 5000;
    CHECK_THAT(d.db.apply(add).error(), Catch::Contains("--replay_window"));
    add.config.replay_window = 0;
    add.config.initial_seq = 0x100000000ull;
    CHECK_THAT(d.db.apply(add).error(), Catch::Contains("--esn"));
    add.config.esn = true;
    CHECK(d.db.apply(add).ok());
    CHECK(d.db.snapshot()->size() == 1);
}

TEST_CASE("a transaction of 100,000 adds", "[core][sadb]") {
    constexpr uint32_t kCount = 100'000;
    // CPU time of this thread, so that a busy machine does not fail the test; wall time is
    // printed alongside.
    struct Clock {
        std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
        double cpu_ms = [] {
            timespec ts{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
        }();
    };
    struct Span {
        double wall_ms, cpu_ms;
    };
    const auto span = [](const Clock& a, const Clock& b) {
        return Span{std::chrono::duration<double, std::milli>(b.wall - a.wall).count(),
                    b.cpu_ms - a.cpu_ms};
    };

    Db d;
    std::vector<Command> commands;
    commands.reserve(kCount);
    const Clock t0;
    char line[256];
    for (uint32_t i = 0; i < kCount; ++i) {
        // what `ipsec --batch` sends: one line per SA, parsed by the daemon
        std::snprintf(line, sizeof(line),
                      "spi --said esp.%x@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey "
                      "0x000102030405060708090a0b0c0d0e0f10111213",
                      0x1000 + i);
        auto w = split_command_line(line);
        auto c = parse_command(*w);
        REQUIRE(c.ok());
        commands.push_back(std::move(*c));
    }
    const Clock t1;
    {
        auto tx = d.db.begin();
        for (const Command& c : commands)
            REQUIRE(tx.apply(c).ok());
        tx.commit();
    }
    const Clock t2;
    const auto snap = d.db.snapshot();
    const std::string all = render_spi(*snap, d.now);
    const Clock t3;
    // one more command on a large SADB
    REQUIRE(d.db.apply(command(esp_out("ffffffff"))).ok());
    const Clock t4;

    CHECK(snap->size() == kCount);
    CHECK(d.db.snapshot()->size() == kCount + 1);
    CHECK(std::count(all.begin(), all.end(), '\n') == kCount);
    const Span parse = span(t0, t1), apply = span(t1, t2), render = span(t2, t3),
               one = span(t3, t4);
    std::printf(
        "sadb, 100k SAs (wall/cpu ms): parse %.0f/%.0f, apply+commit %.0f/%.0f, render_spi "
        "%.0f/%.0f, one more add %.1f/%.1f\n",
        parse.wall_ms, parse.cpu_ms, apply.wall_ms, apply.cpu_ms, render.wall_ms, render.cpu_ms,
        one.wall_ms, one.cpu_ms);
#ifdef NDEBUG
    CHECK(apply.cpu_ms < 1000.0);
#endif
}

}  // namespace ipsecfs
