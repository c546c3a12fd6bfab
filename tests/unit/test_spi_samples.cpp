#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/render.hpp"
#include "core/sadb.hpp"
#include "core/spi_samples.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs {
namespace {

using testing::command;

constexpr int64_t kSecond = 1'000'000'000;

}  // namespace

TEST_CASE("spi samples: the seed page's golden lines", "[core][top]") {
    const auto samples = parse_spi_samples(
        "tun.12a@192.168.43.1 IPIP: dir=out src=192.168.43.2 "
        "life(c,s,h)=bytes(14073,0,0)add(269,0,0)use(149,0,0)packets(14,0,0) idle=23\n"
        "esp:9a35fc02@3049:1::1 ESP_3DES_HMAC_MD5: dir=in src=3049:1::2 ooowin=32 seq=7149 "
        "bit=0xffffffff alen=128 aklen=128 eklen=192 "
        "life(c,s,h)=bytes(1222304,0,0)add(4593,0,0)use(3858,0,0)packets(7149,0,0) idle=23\n");
    REQUIRE(samples.size() == 2);
    REQUIRE(samples[0] == SaSample{.said = "tun.12a@192.168.43.1",
                                   .xform = "IPIP",
                                   .inbound = false,
                                   .age = 269,
                                   .bytes = 14073,
                                   .packets = 14,
                                   .errors = 0});
    REQUIRE(samples[1] == SaSample{.said = "esp:9a35fc02@3049:1::1",
                                   .xform = "ESP_3DES_HMAC_MD5",
                                   .inbound = true,
                                   .age = 4593,
                                   .bytes = 1222304,
                                   .packets = 7149,
                                   .errors = 0});
}

TEST_CASE("spi samples: what render_spi prints comes back", "[core][top]") {
    int64_t now = 1'700'000'000 * kSecond;
    Sadb::Environment env;
    env.now_ns = [&] { return now; };
    env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
    Sadb db(env);
    const std::string key = " --enckey 0x" + std::string(40, 'a');
    REQUIRE(db.apply(command("spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16" +
                             key + " --life soft-allocations=1,hard-bytes=999999999"))
                .ok());
    REQUIRE(db.apply(command("spi --said esp.2000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16" +
                             key + " --natt nonesp"))
                .ok());
    REQUIRE(db.apply(command("spi --said tun.1001@192.0.2.1 --ip4 --src 192.0.2.2 --dst "
                             "192.0.2.1 --policy 203.0.113.0/24->198.51.100.0/24"))
                .ok());
    REQUIRE(db.apply(command("spi --said esp.3000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16" +
                             key + " --iv 0x0102"))
                .ok());
    now += 75 * kSecond;
    const auto snap = db.snapshot();
    const Sa& out = *snap->find(testing::said("esp.1000@192.0.2.2"));
    out.counters().bytes.add(123'456);
    out.counters().packets.add(789);
    out.counters().mark_used(now - 5 * kSecond);
    const Sa& in = *snap->find(testing::said("esp.2000@192.0.2.1"));
    in.counters().bytes.add(1000);
    in.counters().packets.add(10);
    in.counters().ooo_errs.add(1);
    in.counters().auth_errs.add(2);
    in.counters().encr_size_errs.add(3);
    in.counters().encr_pad_errs.add(4);

    const std::string text = render_spi(*snap, now);
    const auto samples = parse_spi_samples(text);
    INFO(text);
    REQUIRE(samples.size() == 4);
    const auto of = [&](const std::string& said) {
        for (const SaSample& s : samples) {
            if (s.said == said) return s;
        }
        FAIL("no sample for " << said);
        return SaSample{};
    };
    REQUIRE(of("esp.1000@192.0.2.2") == SaSample{.said = "esp.1000@192.0.2.2",
                                                 .xform = "ESP_AES_GCM_16",
                                                 .inbound = false,
                                                 .age = 75,
                                                 .bytes = 123'456,
                                                 .packets = 789,
                                                 .errors = 0});
    REQUIRE(of("esp.2000@192.0.2.1") == SaSample{.said = "esp.2000@192.0.2.1",
                                                 .xform = "ESP_AES_GCM_16",
                                                 .inbound = true,
                                                 .age = 75,
                                                 .bytes = 1000,
                                                 .packets = 10,
                                                 .errors = 10});
    REQUIRE(of("esp.3000@192.0.2.2").bytes == 0);
    REQUIRE(of("tun.1001@192.0.2.1") == SaSample{.said = "tun.1001@192.0.2.1",
                                                 .xform = "IPIP",
                                                 .inbound = true,
                                                 .age = 75,
                                                 .bytes = 0,
                                                 .packets = 0,
                                                 .errors = 0});
}

TEST_CASE("spi samples: lines that are not SA lines are skipped", "[core][top]") {
    REQUIRE(parse_spi_samples("").empty());
    REQUIRE(parse_spi_samples("\n\n").empty());
    REQUIRE(parse_spi_samples("garbage\nesp.1000@192.0.2.2 nocolon dir=out\n").empty());
    const auto one = parse_spi_samples(
        "esp.1000@192.0.2.2 ESP_AES_GCM_16: dir=out src=192.0.2.1 life(c,s,h)=add(3,0,0)");
    REQUIRE(one.size() == 1);  // the last line needs no newline
    REQUIRE(one[0].age == 3);
    REQUIRE(one[0].bytes == 0);
}

}  // namespace ipsecfs
