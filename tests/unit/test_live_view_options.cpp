#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/live_view_options.hpp"

namespace ipsecfs {
namespace {

std::vector<std::string> words(const std::string& line) {
    auto w = split_command_line(line);
    REQUIRE(w.ok());
    return *w;
}

TopOptions top_ok(const std::string& line) {
    auto o = parse_top_options(words(line));
    INFO(line << " -> " << (o.ok() ? "ok" : o.error()));
    REQUIRE(o.ok());
    return *o;
}

std::string top_error(const std::string& line) {
    auto o = parse_top_options(words(line));
    INFO(line);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().find('\n') == std::string::npos);
    return o.error();
}

std::string watch_error(const std::string& line) {
    auto o = parse_watch_options(words(line));
    INFO(line);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().find('\n') == std::string::npos);
    return o.error();
}

}  // namespace

TEST_CASE("ipsec top options", "[core][top]") {
    const TopOptions d = top_ok("top");
    CHECK(d.interval == 2.0);
    CHECK(d.sort == RateSort::bytes);
    CHECK_FALSE(d.iterations);
    CHECK_FALSE(d.batch);
    CHECK_FALSE(d.mount);
    CHECK_FALSE(d.help);

    const TopOptions b = top_ok("top -b -n 2 --interval 0.5 --sort packets --mount /tmp/m");
    CHECK(b.batch);
    CHECK(b.iterations == 2u);
    CHECK(b.interval == 0.5);
    CHECK(b.sort == RateSort::packets);
    CHECK(b.mount == "/tmp/m");
    CHECK(top_ok("top -d 3 --sort errors").interval == 3.0);
    CHECK(top_ok("top --sort=errors").sort == RateSort::errors);
    CHECK(top_ok("top --iterations=7").iterations == 7u);
    CHECK(top_ok("top --help").help);

    CHECK(top_error("top --sort cpu") == "--sort must be bytes, packets or errors, not 'cpu'");
    CHECK(top_error("top -n 0") == "-n needs a number of frames, 1 or more, not '0'");
    CHECK(top_error("top -n x") == "-n needs a number of frames, 1 or more, not 'x'");
    CHECK(top_error("top --interval 0") == "--interval must be 0.1 to 3600 seconds");
    CHECK(top_error("top --interval nan") == "--interval must be 0.1 to 3600 seconds");
    CHECK_THAT(top_error("top --interval soon"), Catch::Contains("--interval"));
    CHECK_THAT(top_error("top --esp aes"), Catch::Contains("see ipsec top --help"));
    CHECK_THAT(top_error("top extra"), Catch::StartsWith("unexpected argument 'extra'"));
    CHECK_THAT(top_usage(), Catch::Contains("--sort") && Catch::Contains("-n"));
}

TEST_CASE("ipsec spi --watch options", "[core][top]") {
    CHECK(is_spi_watch(words("spi --watch")));
    CHECK(is_spi_watch(words("spi --interval 1 --watch")));
    CHECK_FALSE(is_spi_watch(words("spi")));
    CHECK_FALSE(is_spi_watch(words("eroute --watch")));
    CHECK_FALSE(is_spi_watch({}));

    auto d = parse_watch_options(words("spi --watch"));
    REQUIRE(d.ok());
    CHECK(d->interval == 2.0);
    CHECK_FALSE(d->mount);
    auto o = parse_watch_options(words("spi --watch --interval 0.25 --mount /m"));
    REQUIRE(o.ok());
    CHECK(o->interval == 0.25);
    CHECK(o->mount == "/m");

    CHECK(watch_error("spi --watch --said esp.1000@192.0.2.2 --del") ==
          "--watch takes only --interval and --mount, not '--said'");
    CHECK(watch_error("spi --watch --interval 5000") == "--interval must be 0.1 to 3600 seconds");
    CHECK_THAT(watch_error("spi --watch stray"), Catch::StartsWith("unexpected argument"));
    CHECK_THAT(command_usage("spi"), Catch::Contains("--watch"));
    CHECK_THAT(command_usage(""), Catch::Contains("ipsec top"));
}

}  // namespace ipsecfs
