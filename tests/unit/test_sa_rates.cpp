#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/sa_rates.hpp"
#include "core/top_frame.hpp"

namespace ipsecfs {
namespace {

SaSample sample(const std::string& said, bool inbound, uint64_t age, uint64_t bytes,
                uint64_t packets, uint64_t errors = 0) {
    return {.said = said,
            .xform = "ESP_AES_GCM_16",
            .inbound = inbound,
            .age = age,
            .bytes = bytes,
            .packets = packets,
            .errors = errors};
}

const SaRate& find(const std::vector<SaRate>& rates, const std::string& said) {
    for (const SaRate& r : rates) {
        if (r.sample.said == said) return r;
    }
    FAIL("no " << said);
    return rates.front();
}

std::vector<std::string> order(const std::vector<SaRate>& rates) {
    std::vector<std::string> out;
    for (const SaRate& r : rates)
        out.push_back(r.sample.said);
    return out;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (std::size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
        out.push_back(text.substr(pos, nl - pos));
    REQUIRE(pos == text.size());  // every line ends in '\n'
    return out;
}

}  // namespace

TEST_CASE("rates: counter change over the seconds between the reads", "[core][top]") {
    const std::vector<SaSample> before = {
        sample("esp.1000@192.0.2.2", false, 10, 1000, 10),
        sample("esp.2000@192.0.2.1", true, 10, 500, 5, 1),
        sample("esp.3000@192.0.2.2", false, 10, 0, 0),
    };
    const std::vector<SaSample> after = {
        sample("esp.1000@192.0.2.2", false, 12, 5000, 50),
        sample("esp.2000@192.0.2.1", true, 12, 500, 5, 7),
        sample("esp.3000@192.0.2.2", false, 12, 0, 0),
    };
    const auto rates = compute_rates(before, after, 2.0);
    REQUIRE(rates.size() == 3);
    const SaRate& out = find(rates, "esp.1000@192.0.2.2");
    REQUIRE(out.measured);
    REQUIRE(out.bytes_per_s == 2000.0);
    REQUIRE(out.packets_per_s == 20.0);
    REQUIRE(out.errors_per_s == 0.0);
    REQUIRE(out.sample == after[0]);
    const SaRate& in = find(rates, "esp.2000@192.0.2.1");
    REQUIRE(in.bytes_per_s == 0.0);
    REQUIRE(in.errors_per_s == 3.0);
    REQUIRE(find(rates, "esp.3000@192.0.2.2").bytes_per_s == 0.0);

    const RateTotals t = total_rates(rates);
    REQUIRE(t.out.sas == 2);
    REQUIRE(t.in.sas == 1);
    REQUIRE(t.out.bytes_per_s == 2000.0);
    REQUIRE(t.out.packets_per_s == 20.0);
    REQUIRE(t.in.errors_per_s == 3.0);
}

TEST_CASE("rates: new and replaced SAs count from zero, deleted ones are gone", "[core][top]") {
    const std::vector<SaSample> before = {
        sample("esp.1000@192.0.2.2", false, 100, 9000, 90),  // replaced: younger now
        sample("esp.1001@192.0.2.2", false, 0, 9000, 90),    // replaced within its first second
        sample("esp.1002@192.0.2.2", false, 100, 10, 1),     // deleted
    };
    const std::vector<SaSample> after = {
        sample("esp.1000@192.0.2.2", false, 1, 10'000, 100),
        sample("esp.1001@192.0.2.2", false, 0, 400, 4),
        sample("esp.1003@192.0.2.2", false, 1, 600, 6),  // new
    };
    const auto rates = compute_rates(before, after, 2.0);
    REQUIRE(order(rates) == std::vector<std::string>{"esp.1000@192.0.2.2", "esp.1001@192.0.2.2",
                                                     "esp.1003@192.0.2.2"});
    REQUIRE(rates[0].bytes_per_s == 5000.0);
    REQUIRE(rates[1].bytes_per_s == 200.0);
    REQUIRE(rates[1].packets_per_s == 2.0);
    REQUIRE(rates[2].bytes_per_s == 300.0);
}

TEST_CASE("rates: a first read has no rates yet", "[core][top]") {
    const std::vector<SaSample> first = {sample("esp.1000@192.0.2.2", false, 5, 100, 1)};
    const auto rates = unmeasured(first);
    REQUIRE(rates.size() == 1);
    REQUIRE_FALSE(rates[0].measured);
    REQUIRE(rates[0].sample == first[0]);
}

TEST_CASE("rates: sorted busiest first, ties by counter then SAID", "[core][top]") {
    const std::vector<SaSample> before = {
        sample("a", false, 1, 0, 0, 0), sample("b", false, 1, 0, 0, 0),
        sample("c", false, 1, 0, 0, 0), sample("d", false, 1, 50, 0, 0)};
    const std::vector<SaSample> after = {
        sample("a", false, 2, 100, 1, 9), sample("b", false, 2, 300, 3, 0),
        sample("c", false, 2, 100, 5, 0), sample("d", false, 2, 150, 0, 0)};
    auto rates = compute_rates(before, after, 1.0);
    sort_rates(rates, RateSort::bytes);
    REQUIRE(order(rates) == std::vector<std::string>{"b", "d", "a", "c"});
    sort_rates(rates, RateSort::packets);
    REQUIRE(order(rates) == std::vector<std::string>{"c", "b", "a", "d"});
    sort_rates(rates, RateSort::errors);
    REQUIRE(order(rates) == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("rates: thousands of SAs in one pass", "[core][top]") {
    std::vector<SaSample> before, after;
    for (uint64_t i = 0; i < 20'000; ++i) {
        const std::string said = "esp." + std::to_string(0x1000 + i) + "@192.0.2.2";
        before.push_back(sample(said, false, 10, i, i));
        after.push_back(sample(said, false, 11, 3 * i, 2 * i));
    }
    auto rates = compute_rates(before, after, 0.5);
    sort_rates(rates, RateSort::bytes);
    REQUIRE(rates.size() == 20'000);
    REQUIRE(rates.front().bytes_per_s == 4.0 * 19'999);
    REQUIRE(rates.front().packets_per_s == 2.0 * 19'999);
    REQUIRE(rates.back().bytes_per_s == 0.0);
}

TEST_CASE("short numbers fit six characters", "[core][top]") {
    REQUIRE(short_number(0) == "0");
    REQUIRE(short_number(-1) == "0");
    REQUIRE(short_number(0.5) == "0.5");
    REQUIRE(short_number(7) == "7");
    REQUIRE(short_number(950.4) == "950");
    REQUIRE(short_number(9999) == "9999");
    REQUIRE(short_number(12'345) == "12.3k");
    REQUIRE(short_number(123'456) == "123k");
    REQUIRE(short_number(999'999) == "1.0M");
    REQUIRE(short_number(1.5e9) == "1.5G");
    REQUIRE(short_number(2e15) == "2000T");
}

TEST_CASE("a top frame: header with totals, then one line per SA", "[core][top]") {
    const std::vector<SaSample> before = {
        sample("esp.1000@192.0.2.2", false, 10, 0, 0),
        sample("esp.2000@192.0.2.1", true, 10, 0, 0),
    };
    const std::vector<SaSample> after = {
        sample("esp.1000@192.0.2.2", false, 11, 25'000, 200),
        sample("esp.2000@192.0.2.1", true, 11, 1000, 10, 2),
    };
    auto rates = compute_rates(before, after, 1.0);
    sort_rates(rates, RateSort::bytes);
    TopLayout layout{
        .clock = "12:34:56", .interval = 1.0, .sort = RateSort::bytes, .width = 0, .height = 0};
    const auto frame = lines(format_top_frame(rates, layout));
    REQUIRE(frame.size() == 7);
    CHECK(frame[0] == "ipsec top - 12:34:56, every 1.0 s, 2 SAs, sorted by bytes/s");
    CHECK(frame[1] == "in        1 SAs     1000 bytes/s       10 packets/s        2 errors/s");
    CHECK(frame[2] == "out       1 SAs    25.0k bytes/s      200 packets/s        0 errors/s");
    CHECK(frame[3].empty());
    CHECK(frame[4] ==
          "SAID               XFORM                 DIR  BYTES/S   PKTS/S   ERRS/S "
          "   BYTES  PACKETS   ERRORS");
    CHECK(frame[5] ==
          "esp.1000@192.0.2.2 ESP_AES_GCM_16        out    25.0k      200        0 "
          "   25.0k      200        0");
    CHECK(frame[6] ==
          "esp.2000@192.0.2.1 ESP_AES_GCM_16        in      1000       10        2 "
          "    1000       10        2");

    SECTION("a first frame shows dashes for the rates") {
        const auto first = lines(format_top_frame(unmeasured(after), layout));
        CHECK(first[1] == "in        1 SAs        - bytes/s        - packets/s        - errors/s");
        CHECK(first[5].find("out        -        -        -    25.0k") != std::string::npos);
    }
    SECTION("a terminal cuts the width and the rows") {
        layout.width = 30;
        layout.height = 6;
        const auto cut = lines(format_top_frame(rates, layout));
        REQUIRE(cut.size() == 6);
        for (const auto& l : cut)
            REQUIRE(l.size() <= 30);
        CHECK(cut[5] == "esp.1000@192.0.2.2 ESP_AES_GCM");
    }
    SECTION("long SAIDs widen the column") {
        const std::vector<SaSample> v6 = {
            sample("esp:ffffffff@2001:db8:1234:5678:9abc:def0:1234:5678", false, 1, 0, 0)};
        const auto wide = lines(format_top_frame(unmeasured(v6), layout));
        CHECK(wide[4].starts_with("SAID" + std::string(47, ' ') + " XFORM"));
        CHECK(wide[5].starts_with("esp:ffffffff@2001:db8:1234:5678:9abc:def0:1234:5678 ESP_AES"));
    }
}

}  // namespace ipsecfs
