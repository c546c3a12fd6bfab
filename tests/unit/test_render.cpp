#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "ipsecfs_version.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs {
namespace {

using testing::command;
using testing::ip;
using testing::said;

constexpr int64_t kSecond = 1'000'000'000;

std::string hex(std::size_t bytes) {
    return "0x" + std::string(bytes * 2, 'c');
}

// A SADB on a host that owns 192.0.2.1, 192.168.43.2 and 3049:1::1, with a fake clock.
struct Db {
    int64_t now = 1'000'000 * kSecond;
    std::set<IpAddress> local{ip("192.0.2.1"), ip("192.168.43.2"), ip("3049:1::1")};
    Sadb db{environment()};

    Sadb::Environment environment() {
        Sadb::Environment env;
        env.now_ns = [this] { return now; };
        env.is_local = [this](const IpAddress& a) { return local.count(a) != 0; };
        return env;
    }
    void must(const std::string& line) {
        auto r = db.apply(command(line));
        INFO(line << "\n  -> " << (r.ok() ? std::string("ok") : r.error()));
        REQUIRE(r.ok());
    }
    const Sa& sa(const std::string& s) const {
        const Sa* p = db.snapshot()->find(said(s));
        INFO(s);
        REQUIRE(p);
        return *p;
    }
    std::string line(const std::string& s) const {
        std::string out;
        append_spi_line(out, sa(s), *db.snapshot(), now);
        return out;
    }
    std::string field(const std::string& s, SaField f) const {
        return render_sa_field(sa(s), *db.snapshot(), f, now);
    }
};

bool field_by_name(std::string_view name, SaField& out) {
    for (std::size_t i = 0; i < kSaFieldCount; ++i) {
        if (kSaFieldNames[i] == name) {
            out = static_cast<SaField>(i);
            return true;
        }
    }
    return false;
}

// Every name=value of the SA's ipsec_spi line equals its file; every file of a field the line
// leaves out reads 0, or an empty line for policy and iv; life/X reads the c,s,h of X(...).
void check_files_match_line(const Sa& sa, const SadbSnapshot& snap, int64_t now) {
    std::string line;
    append_spi_line(line, sa, snap, now);
    INFO(line);
    REQUIRE(line.size() > 1);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\t') == std::string::npos);
    CHECK(line.find("  ") == std::string::npos);
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    line.pop_back();
    const auto file = [&](SaField f) { return render_sa_field(sa, snap, f, now); };

    std::vector<std::string> tokens;
    for (std::size_t pos = 0; pos <= line.size();) {
        auto end = line.find(' ', pos);
        if (end == std::string::npos) end = line.size();
        tokens.push_back(line.substr(pos, end - pos));
        pos = end + 1;
    }
    REQUIRE(tokens.size() >= 4);
    CHECK(file(SaField::said) == tokens[0] + "\n");
    REQUIRE(tokens[1].back() == ':');
    CHECK(file(SaField::xform) == tokens[1].substr(0, tokens[1].size() - 1) + "\n");

    std::set<std::string> seen{"said", "xform", "drops"};
    for (std::size_t i = 2; i < tokens.size(); ++i) {
        const std::string& tok = tokens[i];
        const auto eq = tok.find('=');
        INFO(tok);
        REQUIRE(eq != std::string::npos);
        const std::string name = tok.substr(0, eq);
        const std::string value = tok.substr(eq + 1);
        if (name == "life(c,s,h)") {
            // alloc(c,s,h)bytes(c,s,h)add(c,s,h)use(c,s,h)packets(c,s,h)
            for (std::size_t pos = 0; pos < value.size();) {
                const auto open = value.find('(', pos);
                const auto close = value.find(')', pos);
                REQUIRE(open != std::string::npos);
                REQUIRE(close != std::string::npos);
                const std::string item = value.substr(pos, open - pos);
                const std::string triple = value.substr(open + 1, close - open - 1);
                SaField f{};
                REQUIRE(field_by_name("life/" + item, f));
                CHECK(file(f) == triple + "\n");
                seen.insert("life/" + item);
                pos = close + 1;
            }
            continue;
        }
        SaField f{};
        INFO("field " << name);
        REQUIRE(field_by_name(name, f));
        CHECK(file(f) == value + "\n");
        CHECK(seen.insert(name).second);
    }
    REQUIRE(seen.count("life/add"));
    // Files beyond the line (lifetime state and absolute times) have tests of their own.
    CHECK_THAT(file(SaField::state), Catch::Matches("(mature|dying|expired)\n"));
    CHECK(file(SaField::add_time) == std::to_string(sa.added_ns() / 1'000'000'000) + "\n");
    const std::set<std::string> beyond_line = {"state", "add_time", "use_time", "soft_time_left",
                                               "hard_time_left"};
    for (std::size_t i = 0; i < kSaFieldCount; ++i) {
        const std::string name(kSaFieldNames[i]);
        if (seen.count(name) || beyond_line.count(name)) continue;
        INFO("absent field " << name);
        const std::string content = file(static_cast<SaField>(i));
        if (name == "policy" || name == "iv") {
            CHECK(content == "\n");
        } else if (name == "natencap") {
            CHECK(content == "none\n");
        } else if (name == "life/alloc") {
            // no limits; c is the eroute count
            CHECK_THAT(content, Catch::EndsWith(",0,0\n"));
        } else if (name.rfind("life/", 0) == 0) {
            CHECK(content == "0,0,0\n");
        } else {
            CHECK(content == "0\n");
        }
    }
}

void check_all_files(const Db& d) {
    const auto snap = d.db.snapshot();
    for (const auto& [s, sa] : snap->sas())
        check_files_match_line(*sa, *snap, d.now);
}

const std::string kGolden1 =
    "tun.12a@192.168.43.1 IPIP: dir=out src=192.168.43.2 "
    "life(c,s,h)=bytes(14073,0,0)add(269,0,0)use(149,0,0)packets(14,0,0) idle=23\n";
const std::string kGolden2 =
    "esp:9a35fc02@3049:1::1 ESP_3DES_HMAC_MD5: dir=in src=3049:1::2 ooowin=32 seq=7149 "
    "bit=0xffffffff alen=128 aklen=128 eklen=192 "
    "life(c,s,h)=bytes(1222304,0,0)add(4593,0,0)use(3858,0,0)packets(7149,0,0) idle=23\n";

}  // namespace

TEST_CASE("the golden lines of DESIGN.md, byte for byte", "[core][render]") {
    Db d;
    d.local = {ip("192.168.43.2"), ip("3049:1::1")};
    const int64_t start = d.now;
    d.must(
        "spi --said esp:9a35fc02@3049:1::1 --esp 3des-md5-96 --src 3049:1::2 --enckey "
        "0x0123456789abcdef0123456789abcdef0123456789abcdef --authkey "
        "0xfedcba9876543210fedcba9876543210");
    d.now = start + (4593 - 269) * kSecond;
    d.must("spi --said tun.12a@192.168.43.1 --ip4 --src 192.168.43.2 --dst 192.168.43.1");
    d.now = start + 4593 * kSecond;
    const int64_t now = d.now;

    SaCounters& tun = d.sa("tun.12a@192.168.43.1").counters();
    tun.bytes.set(14073);
    tun.packets.set(14);
    tun.first_use_ns = now - 149 * kSecond;
    tun.last_use_ns = now - 23 * kSecond;

    SaCounters& esp = d.sa("esp:9a35fc02@3049:1::1").counters();
    esp.bytes.set(1222304);
    esp.packets.set(7149);
    esp.first_use_ns = now - 3858 * kSecond;
    esp.last_use_ns = now - 23 * kSecond;
    esp.seq.set(7149);
    esp.bitmap.set(0xffffffff);

    CHECK(d.line("tun.12a@192.168.43.1") == kGolden1);
    CHECK(d.line("esp:9a35fc02@3049:1::1") == kGolden2);
    CHECK(render_spi(*d.db.snapshot(), now) == kGolden1 + kGolden2);
    check_all_files(d);

    // a few of the files a script would read
    CHECK(d.field("esp:9a35fc02@3049:1::1", SaField::life_bytes) == "1222304,0,0\n");
    CHECK(d.field("esp:9a35fc02@3049:1::1", SaField::bit) == "0xffffffff\n");
    CHECK(d.field("esp:9a35fc02@3049:1::1", SaField::dir) == "in\n");
    CHECK(d.field("esp:9a35fc02@3049:1::1", SaField::xform) == "ESP_3DES_HMAC_MD5\n");
    CHECK(d.field("tun.12a@192.168.43.1", SaField::idle) == "23\n");
    CHECK(d.field("tun.12a@192.168.43.1", SaField::ooowin) == "0\n");
    CHECK(d.field("tun.12a@192.168.43.1", SaField::policy) == "\n");

    // times are seconds before now, rounded down, and move with the clock
    d.now = now + 999'999'999;
    CHECK(d.line("tun.12a@192.168.43.1") == kGolden1);
    d.now = now + 10 * kSecond;
    CHECK_THAT(d.line("tun.12a@192.168.43.1"),
               Catch::Contains("add(279,0,0)use(159,0,0)") && Catch::EndsWith(" idle=33\n"));
    // the keys are nowhere
    const std::string everything = render_look(*d.db.snapshot(), DataplaneStatus{}, d.now);
    CHECK(everything.find("0123456789abcdef") == std::string::npos);
    CHECK(everything.find("fedcba9876543210") == std::string::npos);
}

TEST_CASE("a fresh SA shows only what applies", "[core][render]") {
    Db d;
    d.must("spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128-sha1-96 --enckey " +
           hex(16) + " --authkey " + hex(20));
    d.must("spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128-sha1-96 --enckey " +
           hex(16) + " --authkey " + hex(20));
    d.must("spi --said ah.1000@192.0.2.2 --src 192.0.2.1 --ah hmac-sha2_256-128 --authkey " +
           hex(32));
    d.must("spi --said esp.1001@192.0.2.2 --esp aes256gcm16 --enckey " + hex(36));
    d.must("spi --said esp.1002@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20));
    d.must("spi --said esp.1003@192.0.2.2 --esp chacha20poly1305 --enckey " + hex(36));
    d.must("spi --said esp.1004@192.0.2.2 --esp null-sha1-96 --authkey " + hex(20));
    d.must("spi --said esp.1005@192.0.2.2 --esp 3des --enckey " + hex(24));
    d.must("spi --said esp.1006@192.0.2.2 --esp aes256-sha2_256-128 --enckey " + hex(32) +
           " --authkey " + hex(32));
    d.must("spi --said comp.1000@192.0.2.2 --comp deflate");
    d.must("spi --said tun:1000@2001:db8::2 --ip6");
    d.now += 7 * kSecond;

    CHECK(d.line("esp.1000@192.0.2.1") ==
          "esp.1000@192.0.2.1 ESP_AES_HMAC_SHA1: dir=in src=192.0.2.2 ooowin=32 alen=160 "
          "aklen=160 eklen=128 life(c,s,h)=add(7,0,0)\n");
    // outbound SAs have no window
    CHECK(d.line("esp.1000@192.0.2.2") ==
          "esp.1000@192.0.2.2 ESP_AES_HMAC_SHA1: dir=out src=192.0.2.1 alen=160 aklen=160 "
          "eklen=128 life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("ah.1000@192.0.2.2") ==
          "ah.1000@192.0.2.2 AH_HMAC_SHA2_256: dir=out src=192.0.2.1 alen=256 aklen=256 "
          "life(c,s,h)=add(7,0,0)\n");
    // AEAD: alen 128, no auth key, eklen without the salt
    CHECK(d.line("esp.1001@192.0.2.2") ==
          "esp.1001@192.0.2.2 ESP_AES_GCM_16: dir=out src=0.0.0.0 alen=128 eklen=256 "
          "life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("esp.1002@192.0.2.2") ==
          "esp.1002@192.0.2.2 ESP_AES_GCM_16: dir=out src=0.0.0.0 alen=128 eklen=128 "
          "life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("esp.1003@192.0.2.2") ==
          "esp.1003@192.0.2.2 ESP_CHACHA20_POLY1305: dir=out src=0.0.0.0 alen=128 eklen=256 "
          "life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("esp.1004@192.0.2.2") ==
          "esp.1004@192.0.2.2 ESP_NULL_HMAC_SHA1: dir=out src=0.0.0.0 alen=160 aklen=160 "
          "life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("esp.1005@192.0.2.2") ==
          "esp.1005@192.0.2.2 ESP_3DES: dir=out src=0.0.0.0 eklen=192 life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("esp.1006@192.0.2.2") ==
          "esp.1006@192.0.2.2 ESP_AES_HMAC_SHA2_256: dir=out src=0.0.0.0 alen=256 aklen=256 "
          "eklen=256 life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("comp.1000@192.0.2.2") ==
          "comp.1000@192.0.2.2 COMP_DEFLATE: dir=out src=0.0.0.0 life(c,s,h)=add(7,0,0)\n");
    CHECK(d.line("tun:1000@2001:db8::2") ==
          "tun:1000@2001:db8::2 IPIP: dir=out src=:: life(c,s,h)=add(7,0,0)\n");
    check_all_files(d);
}

TEST_CASE("every optional field, in the documented order", "[core][render]") {
    Db d;
    d.must("spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128-sha1-96 --enckey " +
           hex(16) + " --authkey " + hex(20) +
           " --iv 0x0001020304050607 --replay_window 64 --natt nonesp --sport 4501 "
           "--life soft-allocations=2,hard-allocations=3,soft-bytes=1000,hard-bytes=2000,"
           "soft-addtime=30,hard-addtime=60,hard-usetime=40,hard-packets=10");
    d.must("spi --said tun.1001@192.0.2.1 --ip4 --src 192.0.2.2");
    d.must("spigrp --said tun.1001@192.0.2.1 esp.1000@192.0.2.1");
    d.must("eroute --add --src 192.0.2.0/24 --dst 198.51.100.0/24 --said esp.1000@192.0.2.1");
    const int64_t added = d.now;
    d.now += 10 * kSecond;
    SaCounters& k = d.sa("esp.1000@192.0.2.1").counters();
    k.ooo_errs.set(1);
    k.seq.set(5);
    k.bitmap.set(0x1d);
    k.max_seq_diff.set(3);
    k.auth_errs.set(2);
    k.encr_size_errs.set(3);
    k.encr_pad_errs.set(4);
    k.bytes.set(100);
    k.packets.set(2);
    k.mark_used(added + 5 * kSecond);
    k.mark_used(added + 9 * kSecond);

    CHECK(d.line("esp.1000@192.0.2.1") ==
          "esp.1000@192.0.2.1 ESP_AES_HMAC_SHA1: dir=in src=192.0.2.2 iv_bits=64bits "
          "iv=0x0001020304050607 ooowin=64 ooo_errs=1 seq=5 bit=0x1d max_seq_diff=3 alen=160 "
          "aklen=160 auth_errs=2 eklen=128 encr_size_errs=3 encr_pad_errs=4 "
          "life(c,s,h)=alloc(1,2,3)bytes(100,1000,2000)add(10,30,60)use(5,0,40)packets(2,0,10) "
          "idle=1 natencap=nonesp natsport=4501 natdport=4500\n");
    CHECK(d.field("esp.1000@192.0.2.1", SaField::iv) == "0x0001020304050607\n");
    CHECK(d.field("esp.1000@192.0.2.1", SaField::natencap) == "nonesp\n");
    CHECK(d.field("esp.1000@192.0.2.1", SaField::life_alloc) == "1,2,3\n");

    d.must("eroute --addin --src 198.51.100.0/24 --dst 192.0.2.0/24 --said esp.1000@192.0.2.1");
    CHECK(d.line("tun.1001@192.0.2.1") ==
          "tun.1001@192.0.2.1 IPIP: dir=in src=192.0.2.2 policy=198.51.100.0/24->192.0.2.0/24 "
          "flags=0x8<> life(c,s,h)=add(10,0,0)\n");
    CHECK(d.field("tun.1001@192.0.2.1", SaField::policy) == "198.51.100.0/24->192.0.2.0/24\n");
    CHECK(d.field("tun.1001@192.0.2.1", SaField::flags) == "0x8<>\n");
    check_all_files(d);
}

TEST_CASE("life items appear when any of c,s,h is non-zero", "[core][render]") {
    Db d;
    d.must("spi --said esp.1000@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20) +
           " --life soft-bytes=5");
    d.must("spi --said esp.1001@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20) +
           " --life hard-usetime=60");
    d.must("spi --said esp.1002@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20) +
           " --life soft-packets=9");
    d.must("spi --said esp.1003@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20) +
           " --life hard-allocations=1");
    d.must("spi --said esp.1004@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20));
    // an eroute alone does not make alloc appear; a limit does
    d.must("eroute --add --src 192.0.2.0/24 --dst 198.51.100.0/24 --said esp.1004@192.0.2.2");
    const auto life = [&](const std::string& s) {
        const std::string l = d.line(s);
        return l.substr(l.find("life(c,s,h)="));
    };
    CHECK(life("esp.1000@192.0.2.2") == "life(c,s,h)=bytes(0,5,0)add(0,0,0)\n");
    CHECK(life("esp.1001@192.0.2.2") == "life(c,s,h)=add(0,0,0)use(0,0,60)\n");
    CHECK(life("esp.1002@192.0.2.2") == "life(c,s,h)=add(0,0,0)packets(0,9,0)\n");
    CHECK(life("esp.1003@192.0.2.2") == "life(c,s,h)=alloc(0,0,1)add(0,0,0)\n");
    CHECK(life("esp.1004@192.0.2.2") == "life(c,s,h)=add(0,0,0)\n");
    CHECK(d.field("esp.1004@192.0.2.2", SaField::life_alloc) == "1,0,0\n");
    check_all_files(d);

    // traffic without limits
    SaCounters& k = d.sa("esp.1004@192.0.2.2").counters();
    k.bytes.add(1500);
    CHECK(life("esp.1004@192.0.2.2") == "life(c,s,h)=bytes(1500,0,0)add(0,0,0)\n");
    k.packets.add();
    k.mark_used(d.now);
    // used this very second: use(0,0,0) shows, as KLIPS printed a stored first-use stamp
    CHECK(life("esp.1004@192.0.2.2") ==
          "life(c,s,h)=bytes(1500,0,0)add(0,0,0)use(0,0,0)packets(1,0,0) idle=0\n");
    d.now += 3 * kSecond;
    CHECK(life("esp.1004@192.0.2.2") ==
          "life(c,s,h)=bytes(1500,0,0)add(3,0,0)use(3,0,0)packets(1,0,0) idle=3\n");
    check_all_files(d);
}

TEST_CASE("replay fields only on AH/ESP; ratio only on IPCOMP", "[core][render]") {
    Db d;
    d.must("spi --said tun.1000@192.0.2.1 --ip4 --src 192.0.2.2");
    d.must("spi --said comp.1000@192.0.2.1 --comp deflate --src 192.0.2.2");
    d.must("spi --said esp.1000@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20));
    for (const char* s : {"tun.1000@192.0.2.1", "comp.1000@192.0.2.1", "esp.1000@192.0.2.2"}) {
        SaCounters& k = d.sa(s).counters();
        k.seq.set(9);
        k.bitmap.set(1);
        k.max_seq_diff.set(1);
        k.ooo_errs.set(1);
        k.comp_uncompressed.set(3000);
        k.comp_compressed.set(1000);
    }
    CHECK(d.line("tun.1000@192.0.2.1") ==
          "tun.1000@192.0.2.1 IPIP: dir=in src=192.0.2.2 life(c,s,h)=add(0,0,0)\n");
    CHECK(d.line("comp.1000@192.0.2.1") ==
          "comp.1000@192.0.2.1 COMP_DEFLATE: dir=in src=192.0.2.2 life(c,s,h)=add(0,0,0) "
          "ratio=3000:1000\n");
    // outbound: seq is the last number sent
    CHECK(d.line("esp.1000@192.0.2.2") ==
          "esp.1000@192.0.2.2 ESP_AES_GCM_16: dir=out src=0.0.0.0 ooo_errs=1 seq=9 bit=0x1 "
          "max_seq_diff=1 alen=128 eklen=128 life(c,s,h)=add(0,0,0)\n");
    CHECK(d.field("tun.1000@192.0.2.1", SaField::seq) == "0\n");
    CHECK(d.field("comp.1000@192.0.2.1", SaField::ratio) == "3000:1000\n");
    CHECK(d.field("esp.1000@192.0.2.2", SaField::ratio) == "0\n");
    check_all_files(d);

    d.sa("comp.1000@192.0.2.1").counters().comp_uncompressed.set(0);
    d.sa("comp.1000@192.0.2.1").counters().comp_compressed.set(0);
    CHECK(d.line("comp.1000@192.0.2.1") ==
          "comp.1000@192.0.2.1 COMP_DEFLATE: dir=in src=192.0.2.2 life(c,s,h)=add(0,0,0)\n");
    CHECK(d.field("comp.1000@192.0.2.1", SaField::ratio) == "0\n");
    check_all_files(d);
}

TEST_CASE("drop counters feed the error fields", "[core][render]") {
    Db d;
    d.must("spi --said esp.1000@192.0.2.1 --esp aes128gcm16 --enckey " + hex(20));
    SaCounters& k = d.sa("esp.1000@192.0.2.1").counters();
    k.count_drop(DropReason::replay);
    k.count_drop(DropReason::out_of_window, 2);
    k.count_drop(DropReason::auth_failed, 3);
    k.count_drop(DropReason::bad_size, 4);
    k.count_drop(DropReason::bad_padding, 5);
    k.count_drop(DropReason::policy_mismatch, 6);
    CHECK(d.line("esp.1000@192.0.2.1") ==
          "esp.1000@192.0.2.1 ESP_AES_GCM_16: dir=in src=0.0.0.0 ooowin=32 ooo_errs=3 alen=128 "
          "auth_errs=3 eklen=128 encr_size_errs=4 encr_pad_errs=5 life(c,s,h)=add(0,0,0)\n");
    const std::string drops = d.field("esp.1000@192.0.2.1", SaField::drops);
    CHECK_THAT(drops, Catch::Contains("\nreplay=1\n") && Catch::Contains("\nout_of_window=2\n") &&
                          Catch::Contains("\npolicy_mismatch=6\n") &&
                          Catch::StartsWith("malformed=0\n"));
    check_all_files(d);
}

TEST_CASE("per-SA file names", "[core][render]") {
    // the seed's fields, each a file
    for (const char* name : {"said",
                             "xform",
                             "dir",
                             "src",
                             "policy",
                             "iv_bits",
                             "iv",
                             "ooowin",
                             "ooo_errs",
                             "seq",
                             "bit",
                             "max_seq_diff",
                             "flags",
                             "alen",
                             "aklen",
                             "auth_errs",
                             "eklen",
                             "encr_size_errs",
                             "encr_pad_errs",
                             "idle",
                             "ratio",
                             "life/alloc",
                             "life/bytes",
                             "life/add",
                             "life/use",
                             "life/packets"}) {
        SaField f{};
        INFO(name);
        CHECK(field_by_name(name, f));
    }
    CHECK(sa_field_name(SaField::life_packets) == "life/packets");
    CHECK(sa_field_name(SaField::said) == "said");
}

TEST_CASE("ipsec_eroute, ipsec_spigrp, ipsec_tncfg, ipsec_version, look", "[core][render]") {
    Db d;
    d.must("spi --said tun.1001@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2");
    d.must("spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey " + hex(20));
    d.must("spi --said tun:1001@2001:db8::2 --ip6");
    d.must(
        "eroute --add --eraf inet --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
        "tun.1001@192.0.2.2");
    d.must(
        "eroute --add --src 2001:db8:1::/48 --dst 2001:db8:2::/48 --said "
        "tun:1001@2001:db8::2");
    d.must("spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2");
    auto snap = d.db.snapshot();
    snap->route(ip("198.51.100.1"), ip("203.0.113.1"))->packets->add(12);

    const std::string eroute =
        "12         198.51.100.0/24    -> 203.0.113.0/24     => tun.1001@192.0.2.2\n"
        "0          2001:db8:1::/48    -> 2001:db8:2::/48    => tun:1001@2001:db8::2\n";
    CHECK(render_eroute(*snap) == eroute);
    CHECK(render_spigrp(*snap) == "tun.1001@192.0.2.2 esp.1000@192.0.2.2 \n");
    // the eroute's packet count survives later commits
    d.must("spi --said esp.1001@192.0.2.2 --esp aes128gcm16 --enckey " + hex(20));
    CHECK(render_eroute(*d.db.snapshot()) == eroute);

    DataplaneStatus status;
    CHECK(render_tncfg(status).empty());
    status.set_tunnel(TunnelStatus{"ipsec0", "", 1422, 1422, 1500});
    CHECK(render_tncfg(status) == "ipsec0 -> NULL mtu=1422(1422) -> 1500\n");
    status.set_tunnel(TunnelStatus{"ipsec0", "veth0", 1422, 1422, 1500});
    CHECK(render_tncfg(status) == "ipsec0 -> veth0 mtu=1422(1422) -> 1500\n");

    CHECK(render_version() == std::string("ipsecfs version: ") + IPSECFS_VERSION + "\n");
    CHECK_THAT(render_version(), Catch::Matches("ipsecfs version: [0-9]+\\.[0-9]+\\.[0-9]+\n"));

    snap = d.db.snapshot();
    CHECK(render_look(*snap, status, d.now) == render_eroute(*snap) + render_spigrp(*snap) +
                                                   "ipsec0->veth0 mtu=1422(1422)->1500\n" +
                                                   render_spi(*snap, d.now));
    // ipsec_spi is sorted by SAID
    CHECK_THAT(render_spi(*snap, d.now), Catch::StartsWith("tun.1001@192.0.2.2 IPIP: dir=out"));

    status.packets_out.add(3);
    status.tun_read_frames.add(1);
    status.tun_read_bytes.add(4000);
    status.count_drop(DropReason::no_eroute, 2);
    const std::string stats = render_stats(status);
    CHECK_THAT(stats, Catch::StartsWith("packets_out=3\npackets_in=0\nesp_out=0\nesp_in=0\n"
                                        "tun_read_frames=1\ntun_read_bytes=4000\n"
                                        "tun_write_frames=0\ntun_write_bytes=0\n") &&
                          Catch::Contains("\ndrop_no_eroute=2\n") &&
                          Catch::Contains("\ndrop_tx_error=0\n"));
    // every drop reason has its own line, under its own name
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        INFO("drop reason " << i);
        CHECK_FALSE(kDropReasonNames[i].empty());
        CHECK(names.insert(kDropReasonNames[i]).second);
        CHECK_THAT(stats, Catch::Contains("\ndrop_" + std::string(kDropReasonNames[i]) + "="));
    }
    CHECK(std::count(stats.begin(), stats.end(), '\n') == 8 + kDropReasonCount);

    CHECK(render_eroute(SadbSnapshot{}).empty());
    CHECK(render_spigrp(SadbSnapshot{}).empty());
    CHECK(render_spi(SadbSnapshot{}, 0).empty());
}

}  // namespace ipsecfs
