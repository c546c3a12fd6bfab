#include <catch2/catch.hpp>
#include <sstream>

#include "core/render.hpp"
#include "mountd/lib/batch.hpp"
#include "mountd/lib/control_service.hpp"

using namespace ipsecfs;
using namespace ipsecfs::mountd;

namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

Sadb::Environment fake_environment() {
    Sadb::Environment env;
    env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
    env.now_ns = [] { return kNow; };
    return env;
}

std::vector<std::string> add_esp(const std::string& said) {
    return {"spi",
            "--said",
            said,
            "--src",
            "192.0.2.9",
            "--esp",
            "aes128-sha1-96",
            "--enckey",
            "0x00112233445566778899aabbccddeeff",
            "--authkey",
            "0x00112233445566778899aabbccddeeff00112233"};
}

Request command(std::vector<std::string> argv) {
    return {RequestKind::command, {{0, std::move(argv)}}};
}

struct Fixture {
    Sadb sadb{fake_environment()};
    DataplaneStatus status;
    ControlService service{sadb, status, [] { return kNow; }};
};

}  // namespace

TEST_CASE("single commands change the SADB or show it", "[control]") {
    Fixture f;
    auto added = f.service.handle(command(add_esp("esp.1000@192.0.2.1")));
    REQUIRE(added.status == ResponseStatus::ok);
    CHECK(added.text.empty());

    auto shown = f.service.handle(command({"spi"}));
    REQUIRE(shown.status == ResponseStatus::ok);
    CHECK(shown.text == render_spi(*f.sadb.snapshot(), kNow));
    CHECK(shown.text.rfind("esp.1000@192.0.2.1 ESP_AES_HMAC_SHA1: dir=in ", 0) == 0);

    CHECK(f.service.handle(command({"version"})).text == render_version());
    CHECK(f.service.handle(command({"eroute"})).status == ResponseStatus::ok);
    CHECK(f.service.handle(command({"spigrp"})).status == ResponseStatus::ok);
    CHECK(f.service.handle(command({"look"})).status == ResponseStatus::ok);

    auto again = f.service.handle(command(add_esp("esp.1000@192.0.2.1")));
    CHECK(again.status == ResponseStatus::error);
    CHECK(again.text.find("already exists") != std::string::npos);
    CHECK(again.text.find('\n') == std::string::npos);
}

TEST_CASE("the daemon parses again and never trusts the client", "[control]") {
    Fixture f;
    auto bad = f.service.handle(command({"spi", "--said", "esp.10@192.0.2.1", "--del"}));
    CHECK(bad.status == ResponseStatus::error);
    auto unknown = f.service.handle(command({"rm", "-rf"}));
    CHECK(unknown.status == ResponseStatus::error);
    CHECK(f.sadb.snapshot()->size() == 0);
}

TEST_CASE("a batch applies everything or nothing and names the bad line", "[control]") {
    Fixture f;
    REQUIRE(f.service.handle(command(add_esp("esp.5000@192.0.2.2"))).status == ResponseStatus::ok);
    const auto before = render_spi(*f.sadb.snapshot(), kNow);

    SECTION("a line the daemon refuses") {
        Request batch{RequestKind::batch,
                      {{3, add_esp("esp.1000@192.0.2.2")},
                       {4, add_esp("esp.1001@192.0.2.2")},
                       {17, add_esp("esp.5000@192.0.2.2")}}};
        auto r = f.service.handle(batch);
        REQUIRE(r.status == ResponseStatus::error);
        CHECK(r.text.rfind("line 17: ", 0) == 0);
        CHECK(render_spi(*f.sadb.snapshot(), kNow) == before);
    }
    SECTION("a line that does not parse") {
        Request batch{RequestKind::batch,
                      {{1, add_esp("esp.1000@192.0.2.2")},
                       {2, {"spi", "--said", "esp.10@192.0.2.2", "--del"}}}};
        auto r = f.service.handle(batch);
        REQUIRE(r.status == ResponseStatus::error);
        CHECK(r.text.rfind("line 2: ", 0) == 0);
        CHECK(render_spi(*f.sadb.snapshot(), kNow) == before);
    }
    SECTION("a line that only shows") {
        auto r = f.service.handle({RequestKind::batch, {{5, {"spi"}}}});
        REQUIRE(r.status == ResponseStatus::error);
        CHECK(r.text.rfind("line 5: ", 0) == 0);
    }
    SECTION("a good batch") {
        Request batch{RequestKind::batch,
                      {{1, add_esp("esp.1000@192.0.2.2")},
                       {2, add_esp("esp.1001@192.0.2.2")},
                       {3, {"spi", "--said", "esp.5000@192.0.2.2", "--del"}}}};
        auto r = f.service.handle(batch);
        REQUIRE(r.status == ResponseStatus::ok);
        auto snap = f.sadb.snapshot();
        CHECK(snap->size() == 2);
        CHECK(snap->find(*Said::parse("esp.5000@192.0.2.2")) == nullptr);
    }
}

TEST_CASE("batch files: comments, blank lines, a leading ipsec, file line numbers", "[control]") {
    std::istringstream in(
        "# SAs for the lab\n"
        "\n"
        "ipsec spi --said esp.1000@192.0.2.2 --del   # old one\n"
        "   \n"
        "spi --clear\n"
        "spigrp --said 'tun.1001@192.0.2.2' esp.1000@192.0.2.2\n");
    auto lines = read_batch(in);
    REQUIRE(lines.ok());
    REQUIRE(lines->size() == 3);
    CHECK((*lines)[0] == CommandLine{3, {"spi", "--said", "esp.1000@192.0.2.2", "--del"}});
    CHECK((*lines)[1] == CommandLine{5, {"spi", "--clear"}});
    CHECK((*lines)[2].line == 6);
    CHECK((*lines)[2].argv[2] == "tun.1001@192.0.2.2");
    for (const auto& line : *lines)
        CHECK(parse_batch_line(line).ok());

    std::istringstream quote("spi --clear\nspi --said 'esp.1000@192.0.2.2 --del\n");
    auto bad = read_batch(quote);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().rfind("line 2: ", 0) == 0);

    auto show = parse_batch_line({9, {"eroute"}});
    REQUIRE_FALSE(show.ok());
    CHECK(show.error().rfind("line 9: ", 0) == 0);
}
