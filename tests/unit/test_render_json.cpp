#include <catch2/catch.hpp>

#include <charconv>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "core/render_json.hpp"
#include "tests/support/clocked_sadb.hpp"
#include "tests/support/mini_json.hpp"

namespace ipsecfs {
namespace {

using testing::ClockedSadb;
using testing::hex_key;
using testing::Json;
using testing::JsonReader;
using testing::kSecond;

std::string json_of(JsonType type, std::string_view text) {
    std::string out;
    append_json_value(out, type, text);
    return out;
}

// The file's number as a decimal string, read independently of the renderer: "0x…" hex, else
// the leading decimal digits ("64bits" -> "64"); empty when there are none.
std::string decimal_of(std::string_view text) {
    uint64_t v = 0;
    const bool hex = text.starts_with("0x");
    const char* first = text.data() + (hex ? 2 : 0);
    const auto r = std::from_chars(first, text.data() + text.size(), v, hex ? 16 : 10);
    return r.ec == std::errc() ? std::to_string(v) : std::string();
}

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos <= text.size();) {
        std::size_t end = text.find(sep, pos);
        if (end == std::string_view::npos) end = text.size();
        out.emplace_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// The JSON value of one field equals its file, read by the field's declared type.
void check_field(const Json& v, const Sa& sa, const SadbSnapshot& snap, SaField f, int64_t now) {
    std::string text = render_sa_field(sa, snap, f, now);
    REQUIRE(text.ends_with('\n'));
    text.pop_back();
    INFO(sa_field_name(f) << " file: " << text);
    switch (sa_field_json_type(f)) {
        case JsonType::string:
            REQUIRE(v.kind == Json::Kind::string);
            CHECK(v.text == text);
            break;
        case JsonType::number:
            if (text.empty()) {
                CHECK(v.kind == Json::Kind::null);
                break;
            }
            REQUIRE(v.kind == Json::Kind::number);
            CHECK(v.text == decimal_of(text));
            break;
        case JsonType::boolean:
            REQUIRE(v.kind == Json::Kind::boolean);
            CHECK(v.boolean == (text == "1" || text == "yes" || text == "true"));
            break;
        case JsonType::life: {
            REQUIRE(v.kind == Json::Kind::object);
            const auto parts = split(text, ',');
            REQUIRE(parts.size() == 3);
            REQUIRE(v.members.size() == 3);
            const char* names[] = {"current", "soft", "hard"};
            for (int i = 0; i < 3; ++i) {
                CHECK(v.members[i].first == names[i]);
                CHECK(v.members[i].second.kind == Json::Kind::number);
                CHECK(v.members[i].second.text == parts[i]);
            }
            break;
        }
        case JsonType::drops: {
            REQUIRE(v.kind == Json::Kind::object);
            REQUIRE(v.members.size() == kDropReasonCount);
            for (std::size_t r = 0; r < kDropReasonCount; ++r) {
                CHECK(v.members[r].first == kDropReasonNames[r]);
                CHECK(v.members[r].second.text == std::to_string(sa.counters().drops[r].get()));
            }
            break;
        }
        case JsonType::ratio: {
            REQUIRE(v.kind == Json::Kind::object);
            const auto parts = text == "0" ? std::vector<std::string>{"0", "0"} : split(text, ':');
            REQUIRE(parts.size() == 2);
            REQUIRE(v.get("uncompressed"));
            REQUIRE(v.get("compressed"));
            CHECK(v.get("uncompressed")->text == parts[0]);
            CHECK(v.get("compressed")->text == parts[1]);
            break;
        }
        case JsonType::inferred:
            FAIL("field " << sa_field_name(f) << " has no declared JSON type");
    }
}

// A SADB with one SA of each kind the renderer distinguishes.
void add_variety(ClockedSadb& d) {
    d.must("spi --said esp.100@192.0.2.1 --src 192.0.2.2 --esp 3des-md5-96 --enckey " +
           hex_key(24) + " --authkey " + hex_key(16));
    d.must("spi --said esp:101@2001:db8::2 --src 2001:db8::1 --esp chacha20poly1305 --enckey " +
           hex_key(36) + " --esn --seq 0x10000000000");
    d.must("spi --said ah:102@2001:db8::1 --src 2001:db8::2 --ah hmac-sha2_256-128 --authkey " +
           hex_key(32) + " --replay_window 64");
    d.must("spi --said comp.104@192.0.2.2 --src 192.0.2.1 --comp deflate");
    d.must(
        "spi --said tun.105@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1 --policy "
        "203.0.113.0/24->198.51.100.0/24");
    d.must("spi --said esp.107@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey " +
           hex_key(20) +
           " --iv 0x0011223344556677 --life soft-allocations=2,hard-addtime=3600 --natt nonesp "
           "--sport 4500 --dport 4500");
    d.must(
        "eroute --add --eraf inet --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
        "esp.107@192.0.2.2");
    d.now += 30 * kSecond;
    SaCounters& in = d.counters("esp.100@192.0.2.1");
    in.bytes.set(1222304);
    in.packets.set(7149);
    in.seq.set(7149);
    in.bitmap.set(0xffffffff);
    in.first_use_ns = d.now - 20 * kSecond;
    in.last_use_ns = d.now - 3 * kSecond;
    in.count_drop(DropReason::replay, 4);
    in.ooo_errs.set(4);
    SaCounters& comp = d.counters("comp.104@192.0.2.2");
    comp.comp_uncompressed.set(3000);
    comp.comp_compressed.set(1200);
    d.counters("ah:102@2001:db8::1").bitmap.set(UINT64_MAX);
}

}  // namespace

TEST_CASE("ipsec_spi.json: the exact text for a small SADB", "[core][render][json]") {
    ClockedSadb d;
    d.must("spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128-sha1-96 --enckey " +
           hex_key(16) + " --authkey " + hex_key(20) + " --life soft-bytes=1000");
    d.must(
        "spi --said tun.3000@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1 --policy "
        "203.0.113.0/24->198.51.100.0/24");
    d.now += 100 * kSecond;
    SaCounters& k = d.counters("esp.1000@192.0.2.1");
    k.bytes.set(1500);
    k.packets.set(3);
    k.seq.set(3);
    k.bitmap.set(0x7);
    k.count_drop(DropReason::auth_failed);  // and auth_errs
    k.first_use_ns = d.now - 20 * kSecond;
    k.last_use_ns = d.now - 5 * kSecond;

    const auto drops = [](int auth_failed) {
        std::string out;
        for (std::string_view r : kDropReasonNames) {
            out += (out.empty() ? "\"" : ",\"") + std::string(r) +
                   "\":" + std::to_string(r == "auth_failed" ? auth_failed : 0);
        }
        return out;
    };
    const std::string expected =
        "{\"version\":1,\"generated_at\":1700000100,\"sas\":[\n"
        R"({"said":"tun.3000@192.0.2.1","xform":"IPIP","dir":"in","src":"192.0.2.2",)"
        R"("policy":"203.0.113.0/24->198.51.100.0/24","iv_bits":0,"iv":"","ooowin":0,)"
        R"("ooo_errs":0,"seq":0,"bit":0,"max_seq_diff":0,"flags":8,"alen":0,"aklen":0,)"
        R"("auth_errs":0,"eklen":0,"encr_size_errs":0,"encr_pad_errs":0,"idle":0,)"
        R"("ratio":{"uncompressed":0,"compressed":0},"natencap":"none","natsport":0,)"
        R"("natdport":0,"drops":{)" +
        drops(0) +
        R"(},"life":{"alloc":{"current":0,"soft":0,"hard":0},)"
        R"("bytes":{"current":0,"soft":0,"hard":0},"add":{"current":100,"soft":0,"hard":0},)"
        R"("use":{"current":0,"soft":0,"hard":0},"packets":{"current":0,"soft":0,"hard":0}},)"
        R"("state":"mature","add_time":1700000000,"use_time":0,"soft_time_left":null,)"
        R"("hard_time_left":null},)"
        "\n"
        R"({"said":"esp.1000@192.0.2.1","xform":"ESP_AES_HMAC_SHA1","dir":"in","src":"192.0.2.2",)"
        R"("policy":"","iv_bits":0,"iv":"","ooowin":32,"ooo_errs":0,"seq":3,"bit":7,)"
        R"("max_seq_diff":0,"flags":0,"alen":160,"aklen":160,"auth_errs":1,"eklen":128,)"
        R"("encr_size_errs":0,"encr_pad_errs":0,"idle":5,)"
        R"("ratio":{"uncompressed":0,"compressed":0},"natencap":"none","natsport":0,)"
        R"("natdport":0,"drops":{)" +
        drops(1) +
        R"(},"life":{"alloc":{"current":0,"soft":0,"hard":0},)"
        R"("bytes":{"current":1500,"soft":1000,"hard":0},)"
        R"("add":{"current":100,"soft":0,"hard":0},"use":{"current":20,"soft":0,"hard":0},)"
        R"("packets":{"current":3,"soft":0,"hard":0}},"state":"mature","add_time":1700000000,)"
        R"("use_time":1700000080,"soft_time_left":null,"hard_time_left":null})"
        "\n]}\n";
    CHECK(render_spi_json(*d.db.snapshot(), d.now) == expected);
}

TEST_CASE("ipsec_spi.json: an empty SADB", "[core][render][json]") {
    ClockedSadb d;
    const std::string text = render_spi_json(*d.db.snapshot(), d.now + 999'999'999);
    CHECK(text == "{\"version\":1,\"generated_at\":1700000000,\"sas\":[\n]}\n");
    const auto doc = JsonReader::parse(text);
    REQUIRE(doc);
    CHECK(doc->get("sas")->items.empty());
}

TEST_CASE("ipsec_spi.json: every SA in SAID order with every field, typed, equal to its file",
          "[core][render][json]") {
    ClockedSadb d;
    add_variety(d);
    const auto snap = d.db.snapshot();
    const std::string text = render_spi_json(*snap, d.now);
    const auto doc = JsonReader::parse(text);
    REQUIRE(doc);
    REQUIRE(doc->kind == Json::Kind::object);
    REQUIRE(doc->members.size() == 3);
    CHECK(doc->get("version")->text == "1");
    CHECK(doc->get("generated_at")->text == std::to_string(d.now / kSecond));
    const Json& sas = *doc->get("sas");
    REQUIRE(sas.items.size() == snap->size());

    std::size_t i = 0;
    for (const auto& [said, sa] : snap->sas()) {
        const Json& o = sas.items[i++];
        INFO(said.str());
        REQUIRE(o.kind == Json::Kind::object);
        CHECK(o.get("said")->text == said.str());
        std::size_t files = 0;
        for (std::size_t f = 0; f < kSaFieldCount; ++f) {
            const auto field = static_cast<SaField>(f);
            const std::string_view name = sa_field_name(field);
            const auto slash = name.find('/');
            const Json* v = nullptr;
            if (slash == std::string_view::npos) {
                v = o.get(name);
            } else if (const Json* dir = o.get(name.substr(0, slash))) {
                v = dir->get(name.substr(slash + 1));
            }
            INFO("field " << name);
            REQUIRE(v);
            check_field(*v, *sa, *snap, field, d.now);
            ++files;
        }
        // nothing beyond the files: top-level members plus each subdirectory's members
        std::size_t members = 0;
        for (const auto& [key, value] : o.members) {
            members += key == "life" ? value.members.size() : 1;
        }
        CHECK(members == files);
    }

    // Spot checks of what a script reads.
    const Json& tun = sas.items[0];  // SAID order: tun < esp < ah < comp
    CHECK(tun.get("said")->text == "tun.105@192.0.2.1");
    CHECK(tun.get("flags")->text == "8");
    CHECK(tun.get("policy")->text == "203.0.113.0/24->198.51.100.0/24");
    const auto by_said = [&](std::string_view s) -> const Json& {
        for (const Json& o : sas.items) {
            if (o.get("said")->text == s) return o;
        }
        FAIL("no " << s);
        return sas;
    };
    const Json& in = by_said("esp.100@192.0.2.1");
    CHECK(in.get("bit")->text == "4294967295");
    CHECK(in.get("idle")->text == "3");
    CHECK(in.get("drops")->get("replay")->text == "4");
    CHECK(in.get("life")->get("use")->get("current")->text == "20");
    CHECK(by_said("ah:102@2001:db8::1").get("bit")->text == "18446744073709551615");
    CHECK(by_said("esp:101@2001:db8::2").get("seq")->text == "0");  // no packet engine here
    const Json& comp = by_said("comp.104@192.0.2.2");
    CHECK(comp.get("ratio")->get("uncompressed")->text == "3000");
    CHECK(comp.get("ratio")->get("compressed")->text == "1200");
    const Json& out = by_said("esp.107@192.0.2.2");
    CHECK(out.get("iv_bits")->text == "64");
    CHECK(out.get("iv")->text == "0x0011223344556677");
    CHECK(out.get("natencap")->text == "nonesp");
    CHECK(out.get("natsport")->text == "4500");
    CHECK(out.get("life")->get("alloc")->get("current")->text == "1");
    CHECK(out.get("life")->get("alloc")->get("soft")->text == "2");
    CHECK(out.get("hard_time_left")->text == "3570");
}

TEST_CASE("ipsec_spi.json: strings escape quotes, backslashes and control characters",
          "[core][render][json]") {
    std::string out;
    append_json_string(out, "esp.1000@192.0.2.1");
    CHECK(out == "\"esp.1000@192.0.2.1\"");
    out.clear();
    const std::string nasty = std::string("q\"b\\s/n\nr\rt\tb\bf\fz") + '\0' + "\x01\x1f\x7f";
    append_json_string(out, nasty);
    CHECK(out == "\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\fz\\u0000\\u0001\\u001f\x7f\"");
    const auto back = JsonReader::parse(out);
    REQUIRE(back);
    CHECK(back->text == nasty);
}

TEST_CASE("ipsec_spi.json: a file's text as each JSON type", "[core][render][json]") {
    CHECK(json_of(JsonType::number, "7149") == "7149");
    CHECK(json_of(JsonType::number, "0xffffffff") == "4294967295");
    CHECK(json_of(JsonType::number, "0x8<>") == "8");
    CHECK(json_of(JsonType::number, "64bits") == "64");
    CHECK(json_of(JsonType::number, "-5") == "-5");
    CHECK(json_of(JsonType::number, "18446744073709551615") == "18446744073709551615");
    CHECK(json_of(JsonType::number, "") == "null");
    CHECK(json_of(JsonType::number, "none") == "null");
    CHECK(json_of(JsonType::string, "a\"b") == "\"a\\\"b\"");
    CHECK(json_of(JsonType::boolean, "1") == "true");
    CHECK(json_of(JsonType::boolean, "yes") == "true");
    CHECK(json_of(JsonType::boolean, "0") == "false");
    CHECK(json_of(JsonType::boolean, "") == "false");
    CHECK(json_of(JsonType::life, "1,2,3") == R"({"current":1,"soft":2,"hard":3})");
    CHECK(json_of(JsonType::life, "1,2") == "null");
    CHECK(json_of(JsonType::life, "1,2,3,4") == "null");
    CHECK(json_of(JsonType::life, "1,x,3") == "null");
    CHECK(json_of(JsonType::ratio, "0") == R"({"uncompressed":0,"compressed":0})");
    CHECK(json_of(JsonType::ratio, "300:120") == R"({"uncompressed":300,"compressed":120})");
    CHECK(json_of(JsonType::drops, "replay=4\nno_sa=0") == R"({"replay":4,"no_sa":0})");
    CHECK(json_of(JsonType::inferred, "12") == "12");
    CHECK(json_of(JsonType::inferred, "12s") == "\"12s\"");
    CHECK(json_of(JsonType::inferred, "") == "\"\"");
}

TEST_CASE("ipsec_spi.json: every field has a declared type", "[core][render][json]") {
    for (std::size_t f = 0; f < kSaFieldCount; ++f) {
        INFO(kSaFieldNames[f] << ": add it to sa_field_json_type in core/render_json.cpp");
        CHECK(sa_field_json_type(static_cast<SaField>(f)) != JsonType::inferred);
    }
}

// Not run by default: `unit_tests "[.bench]" -s` or by name. Prints the time for 100,000 SAs.
TEST_CASE("ipsec_spi.json: 100,000 SAs", "[.][bench][json]") {
    ClockedSadb d;
    auto base = std::get<SpiAdd>(testing::command(
        "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey " + hex_key(20)));
    {
        auto tx = d.db.begin();
        for (uint32_t i = 0; i < 100'000; ++i) {
            SpiAdd c = base;
            c.config.said.spi = 0x10000 + i;
            REQUIRE(tx.apply(c).ok());
        }
        tx.commit();
    }
    const auto snap = d.db.snapshot();
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    const std::string text = render_spi_json(*snap, d.now + kSecond);
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    WARN("render_spi_json: 100000 SAs, " << text.size() << " bytes in " << seconds << " s (" << cpu
                                         << " s CPU)");
    CHECK(cpu < 2.0);
}

}  // namespace ipsecfs
