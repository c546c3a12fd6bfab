#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/sadb.hpp"

namespace ipsecfs {
namespace {

std::vector<std::string> words(const std::string& line) {
    auto w = split_command_line(line);
    INFO(line);
    REQUIRE(w.ok());
    return *w;
}

Result<Command> parse(const std::string& line) {
    const auto w = words(line);
    return parse_command(w);
}

Command ok(const std::string& line) {
    auto c = parse(line);
    INFO(line << "\n  -> " << (c.ok() ? std::string("ok") : c.error()));
    REQUIRE(c.ok());
    return *c;
}

std::string error_of(const std::string& line) {
    auto c = parse(line);
    INFO(line);
    REQUIRE_FALSE(c.ok());
    // one line, never empty
    CHECK_FALSE(c.error().empty());
    CHECK(c.error().find('\n') == std::string::npos);
    return c.error();
}

template <class T>
T as(const std::string& line) {
    Command c = ok(line);
    INFO(line);
    REQUIRE(std::holds_alternative<T>(c));
    return std::get<T>(c);
}

std::string hex(std::size_t bytes, char digit = 'a') {
    return "0x" + std::string(bytes * 2, digit);
}

const std::string kEsp = "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128-sha1-96";
const std::string kKeys = " --enckey " + hex(16) + " --authkey " + hex(20);

}  // namespace

// ---- split_command_line --------------------------------------------------------------------

TEST_CASE("split_command_line splits like a shell, minus the shell", "[core][command]") {
    CHECK(words("spi --said esp.1000@192.0.2.2 --del") ==
          std::vector<std::string>{"spi", "--said", "esp.1000@192.0.2.2", "--del"});
    CHECK(words("  spi\t--clear  \r\n") == std::vector<std::string>{"spi", "--clear"});
    CHECK(words("ipsec spi --clear") == std::vector<std::string>{"spi", "--clear"});
    CHECK(words("ipsec") == std::vector<std::string>{});
    CHECK(words("spi ipsec") == std::vector<std::string>{"spi", "ipsec"});
    CHECK(words("").empty());
    CHECK(words("   ").empty());
    CHECK(words("# a comment").empty());
    CHECK(words("   # indented comment").empty());
    CHECK(words("spi --clear # trailing comment") == std::vector<std::string>{"spi", "--clear"});
    CHECK(words("spi --enckey '0tsecret key'") ==
          std::vector<std::string>{"spi", "--enckey", "0tsecret key"});
    CHECK(words("spi --enckey \"0tit's\"") ==
          std::vector<std::string>{"spi", "--enckey", "0tit's"});
    CHECK(words("a'b c'd") == std::vector<std::string>{"ab cd"});
    CHECK(words("a '' b") == std::vector<std::string>{"a", "", "b"});
    CHECK(words("x '#not a comment'") == std::vector<std::string>{"x", "#not a comment"});
    // '#' starts a comment only at the start of a word, as in sh: a 0t key may contain one
    CHECK(words("spi --enckey 0tpass#word") ==
          std::vector<std::string>{"spi", "--enckey", "0tpass#word"});

    auto bad = split_command_line("spi --enckey '0tunterminated");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error(), Catch::Contains("unterminated quote"));
}

// ---- commands ------------------------------------------------------------------------------

TEST_CASE("show commands", "[core][command]") {
    CHECK(std::holds_alternative<SpiShow>(ok("spi")));
    CHECK(std::holds_alternative<SpiShow>(ok("spi --label x")));
    CHECK(std::holds_alternative<ErouteShow>(ok("eroute")));
    CHECK(std::holds_alternative<SpigrpShow>(ok("spigrp")));
    CHECK(std::holds_alternative<SpigrpShow>(ok("spigrp --label x --debug")));
    CHECK(std::holds_alternative<Look>(ok("look")));
    CHECK(std::holds_alternative<Version>(ok("version")));
    CHECK_FALSE(is_mutation(ok("spi")));
    CHECK_FALSE(is_mutation(ok("eroute")));
    CHECK_FALSE(is_mutation(ok("spigrp")));
    CHECK_FALSE(is_mutation(ok("look")));
    CHECK_FALSE(is_mutation(ok("version")));
    CHECK_THAT(error_of("look --all"), Catch::Contains("takes no arguments"));
    CHECK_THAT(error_of("version 2"), Catch::Contains("takes no arguments"));
    CHECK_THAT(error_of("tncfg"), Catch::Contains("unknown command"));
    CHECK_FALSE(parse_command(std::vector<std::string>{}).ok());
}

TEST_CASE("spi --esp builds the SA configuration", "[core][command]") {
    const auto add =
        as<SpiAdd>(kEsp + kKeys + " --replay_window 64 --esn --seq 0x10 --iv 0x0001020304050607");
    const SaConfig& c = add.config;
    CHECK(c.said.str() == "esp.1000@192.0.2.2");
    CHECK(c.xform == *parse_esp_name("aes128-sha1-96"));
    CHECK(c.src.str() == "192.0.2.1");
    CHECK_FALSE(c.tunnel_dst);
    CHECK(c.enc_key.size() == 16);
    CHECK(c.enc_key[0] == 0xaa);
    CHECK(c.auth_key.size() == 20);
    CHECK(c.replay_window == 64);
    CHECK(c.esn);
    CHECK(c.initial_seq == 0x10);
    CHECK(c.iv == std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(c.natt == NatEncap::none);
    CHECK(c.life == LifeLimits{});
    CHECK_FALSE(add.policy);
    CHECK_FALSE(add.replace);
    CHECK(is_mutation(Command{add}));

    CHECK(as<SpiAdd>(kEsp + kKeys + " --replace").replace);
    // no --src: the unspecified address of the SA's family
    const auto nosrc =
        as<SpiAdd>("spi --said esp:1000@2001:db8::2 --esp aes128gcm16 --enckey " + hex(20));
    CHECK(nosrc.config.src == IpAddress::unspecified(Family::v6));
    CHECK(nosrc.config.auth_key.empty());
}

TEST_CASE("every algorithm takes keys of its own length", "[core][command]") {
    struct Row {
        const char* option;
        std::size_t enc, auth;
    };
    for (const Row& r :
         {Row{"--esp 3des", 24, 0}, Row{"--esp 3des-md5-96", 24, 16},
          Row{"--esp 3des-sha1-96", 24, 20}, Row{"--esp aes128-sha1-96", 16, 20},
          Row{"--esp aes192-sha1-96", 24, 20}, Row{"--esp aes256-sha1-96", 32, 20},
          Row{"--esp aes128-sha2_256-128", 16, 32}, Row{"--esp aes256-sha2_256-128", 32, 32},
          Row{"--esp null-sha1-96", 0, 20}, Row{"--esp aes128gcm16", 20, 0},
          Row{"--esp aes256gcm16", 36, 0}, Row{"--esp chacha20poly1305", 36, 0}}) {
        INFO(r.option);
        std::string line = "spi --said esp.1000@192.0.2.2 " + std::string(r.option);
        if (r.enc) line += " --enckey " + hex(r.enc);
        if (r.auth) line += " --authkey " + hex(r.auth);
        const auto add = as<SpiAdd>(line);
        CHECK(add.config.enc_key.size() == r.enc);
        CHECK(add.config.auth_key.size() == r.auth);
        if (r.enc) {
            CHECK_THAT(
                error_of("spi --said esp.1000@192.0.2.2 " + std::string(r.option) + " --enckey " +
                         hex(r.enc + 1) + (r.auth ? " --authkey " + hex(r.auth) : std::string())),
                Catch::Contains(std::to_string(r.enc) + " bytes"));
            CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 " + std::string(r.option) +
                                (r.auth ? " --authkey " + hex(r.auth) : std::string())),
                       Catch::Contains("missing --enckey"));
        } else {
            CHECK_THAT(error_of(line + " --enckey " + hex(16)),
                       Catch::Contains("--enckey is not used"));
        }
        if (r.auth) {
            CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 " + std::string(r.option) +
                                (r.enc ? " --enckey " + hex(r.enc) : std::string()) +
                                " --authkey " + hex(r.auth - 1)),
                       Catch::Contains(std::to_string(r.auth) + " bytes"));
            CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 " + std::string(r.option) +
                                (r.enc ? " --enckey " + hex(r.enc) : std::string())),
                       Catch::Contains("missing --authkey"));
        } else {
            CHECK_THAT(error_of(line + " --authkey " + hex(16)),
                       Catch::Contains("--authkey is not used"));
        }
    }
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::size_t>>{
             {"hmac-md5-96", 16}, {"hmac-sha1-96", 20}, {"hmac-sha2_256-128", 32}}) {
        INFO(name);
        const std::string line = "spi --said ah.1000@192.0.2.2 --ah " + name;
        CHECK(as<SpiAdd>(line + " --authkey " + hex(bytes)).config.auth_key.size() == bytes);
        CHECK_THAT(error_of(line + " --authkey " + hex(bytes + 4)),
                   Catch::Contains("must be " + std::to_string(bytes) + " bytes"));
        CHECK_THAT(error_of(line), Catch::Contains("missing --authkey"));
        CHECK_THAT(error_of(line + " --authkey " + hex(bytes) + " --enckey " + hex(16)),
                   Catch::Contains("--enckey is not used"));
    }
    // the expected length is named in bits too
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --esp 3des-md5-96 --enckey " + hex(16) +
                        " --authkey " + hex(16)),
               Catch::Contains("24 bytes (192 bits)") && Catch::Contains("got 16 bytes") &&
                   Catch::Contains("3des-md5-96"));
    // keys in base64 and text count the same way
    CHECK(as<SpiAdd>("spi --said ah.1000@192.0.2.2 --ah hmac-md5-96 --authkey 0t0123456789abcdef")
              .config.auth_key.size() == 16);
    CHECK(as<SpiAdd>("spi --said ah.1000@192.0.2.2 --ah hmac-md5-96 --authkey "
                     "0sAAAAAAAAAAAAAAAAAAAAAA==")
              .config.auth_key.size() == 16);
}

TEST_CASE("tun, comp and delete commands", "[core][command]") {
    const auto tun = as<SpiAdd>(
        "spi --said tun.12a@192.168.43.1 --ip4 --src 192.168.43.2 --dst "
        "192.168.43.1");
    CHECK(tun.config.xform.proto == SaProto::tun);
    CHECK(tun.config.src.str() == "192.168.43.2");
    REQUIRE(tun.config.tunnel_dst);
    CHECK(tun.config.tunnel_dst->str() == "192.168.43.1");
    CHECK(tun.config.outer_dst().str() == "192.168.43.1");

    const auto tun6 = as<SpiAdd>("spi --said tun:101@3049:1::1 --ip6 --src 3049:1::2");
    CHECK(tun6.config.src.str() == "3049:1::2");
    CHECK(tun6.config.outer_dst().str() == "3049:1::1");
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --ip6"), Catch::Contains("--ip6"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --ip4 --src 2001:db8::1"),
               Catch::Contains("--ip4"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --ip4 --enckey 0x1234"),
               Catch::Contains("--enckey is not used"));
    CHECK_THAT(error_of("spi --said esp.101@192.0.2.2 --ip4"), Catch::Contains("tun"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --esp 3des --enckey " + hex(24)),
               Catch::Contains("esp"));

    const auto comp = as<SpiAdd>("spi --said comp.4000@192.0.2.2 --comp deflate");
    CHECK(comp.config.xform.comp == CompAlg::deflate);
    CHECK_THAT(error_of("spi --said comp.4000@192.0.2.2 --comp deflate --authkey " + hex(16)),
               Catch::Contains("--authkey is not used"));
    CHECK_THAT(error_of("spi --said comp.4000@192.0.2.2 --comp deflate --dst 192.0.2.2"),
               Catch::Contains("--dst"));

    const auto del = as<SpiDel>("spi --said esp.1000@192.0.2.2 --del");
    CHECK(del.said.str() == "esp.1000@192.0.2.2");
    CHECK(is_mutation(Command{del}));
    CHECK(std::holds_alternative<SpiClear>(ok("spi --clear")));
    CHECK_THAT(error_of("spi --clear --said esp.1000@192.0.2.2"), Catch::Contains("no SA"));
    CHECK_THAT(error_of("spi --del"), Catch::Contains("--said"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2"), Catch::Contains("no operation"));
    CHECK_THAT(error_of("spi --src 192.0.2.1"), Catch::Contains("no operation"));
}

TEST_CASE("the --af/--edst/--spi/--proto form equals the --said form", "[core][command]") {
    const auto a = as<SpiAdd>(kEsp + kKeys);
    const auto b = as<SpiAdd>(
        "spi --af inet --edst 192.0.2.2 --spi 0x1000 --proto esp --src 192.0.2.1 --esp "
        "aes128-sha1-96" +
        kKeys);
    CHECK(a.config.said == b.config.said);
    CHECK(a.config.xform == b.config.xform);
    CHECK(a.config.src == b.config.src);
    CHECK(a.config.enc_key == b.config.enc_key);
    CHECK(a.config.auth_key == b.config.auth_key);

    CHECK(as<SpiDel>("spi --af inet6 --edst 2001:db8::2 --spi 4096 --proto esp --del").said ==
          as<SpiDel>("spi --said esp:1000@2001:db8::2 --del").said);
    CHECK(as<SpiDel>("spi --af inet --edst 192.0.2.2 --spi 010000 --proto ah --del").said.str() ==
          "ah.1000@192.0.2.2");

    // mixing the forms, or a partial long form, is an error
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --af inet --del"),
               Catch::Contains("--said cannot be combined"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --edst 192.0.2.2 --del"),
               Catch::Contains("--said cannot be combined"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --spi 0x1000 --del"),
               Catch::Contains("--said cannot be combined"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --proto esp --del"),
               Catch::Contains("--said cannot be combined"));
    CHECK_THAT(error_of("spi --af inet --edst 192.0.2.2 --spi 0x1000 --del"),
               Catch::Contains("missing --proto"));
    CHECK_THAT(error_of("spi --edst 192.0.2.2 --spi 0x1000 --proto esp --del"),
               Catch::Contains("missing --af"));
    CHECK_THAT(error_of("spi --af inet6 --edst 192.0.2.2 --spi 0x1000 --proto esp --del"),
               Catch::Contains("inet6"));
    CHECK_THAT(error_of("spi --af ipx --edst 192.0.2.2 --spi 0x1000 --proto esp --del"),
               Catch::Contains("inet or inet6"));
}

TEST_CASE("grammar errors: SPI, protocol, algorithm, address", "[core][command]") {
    // SPI out of range
    CHECK_THAT(error_of("spi --said esp.ff@192.0.2.2 --del"), Catch::Contains("out of range"));
    CHECK_THAT(error_of("spi --said esp.100000000@192.0.2.2 --del"),
               Catch::Contains("out of range"));
    CHECK_THAT(error_of("spi --af inet --edst 192.0.2.2 --spi 0xff --proto esp --del"),
               Catch::Contains("out of range"));
    CHECK_THAT(error_of("spi --af inet --edst 192.0.2.2 --spi 4294967296 --proto esp --del"),
               Catch::Contains("out of range"));
    CHECK_THAT(error_of("spi --af inet --edst 192.0.2.2 --spi 0x1g --proto esp --del"),
               Catch::Contains("SPI"));
    // unknown protocol
    CHECK_THAT(error_of("spi --said xyz.1000@192.0.2.2 --del"),
               Catch::Contains("unknown protocol 'xyz'"));
    CHECK_THAT(error_of("spi --af inet --edst 192.0.2.2 --spi 0x1000 --proto udp --del"),
               Catch::Contains("unknown protocol 'udp'"));
    // unknown algorithm
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --esp blowfish"),
               Catch::Contains("unknown --esp algorithm 'blowfish'"));
    CHECK_THAT(error_of("spi --said ah.1000@192.0.2.2 --ah hmac-sha512"),
               Catch::Contains("unknown --ah algorithm 'hmac-sha512'"));
    CHECK_THAT(error_of("spi --said comp.1000@192.0.2.2 --comp lzs"),
               Catch::Contains("unknown --comp algorithm 'lzs'"));
    CHECK_THAT(error_of("spi --said ah.1000@192.0.2.2 --esp 3des --enckey " + hex(24)),
               Catch::Contains("ah"));
    // bad addresses
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.256 --del"), Catch::Contains("bad address"));
    CHECK_THAT(error_of(kEsp + kKeys + " --src 192.0.2"), Catch::Contains("--src"));
    CHECK_THAT(
        error_of("spi --said esp.1000@192.0.2.2 --esp aes128-sha1-96 --src 2001:db8::1" + kKeys),
        Catch::Contains("address family"));
    CHECK_THAT(error_of("spi --af inet --edst 192.0.2.x --spi 0x1000 --proto esp --del"),
               Catch::Contains("--edst") && Catch::Contains("bad address"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --ip4 --dst 192.0.2"),
               Catch::Contains("--dst") && Catch::Contains("bad address"));
    CHECK_THAT(error_of("spi --said esp.1000@2001:db8::2 --del"), Catch::Contains("':'"));
    CHECK_THAT(error_of("spi --said esp:1000@192.0.2.2 --del"), Catch::Contains("'.'"));
}

TEST_CASE("grammar errors: keys", "[core][command]") {
    const std::string ah = "spi --said ah.1000@192.0.2.2 --ah hmac-md5-96 --authkey ";
    CHECK_THAT(error_of(ah + "0x" + std::string(31, 'a')), Catch::Contains("odd number"));
    CHECK_THAT(error_of(ah + "0x" + std::string(30, 'a') + "zz"),
               Catch::Contains("'z' is not a hex digit"));
    CHECK_THAT(error_of(ah + "0sAAAA*AAAAAAAAAAAAAAAAA=="),
               Catch::Contains("'*' is not a base64 character"));
    CHECK_THAT(error_of(ah + "0sAAAAAAAAAAAAAAAAAAAAAA="), Catch::Contains("multiple of 4"));
    CHECK_THAT(error_of(ah + "0t"), Catch::Contains("no text after 0t"));
    CHECK_THAT(error_of(ah + "0123456789abcdef0123456789abcdef"), Catch::Contains("0x"));
    CHECK_THAT(error_of(ah + "0x" + std::string(31, 'a')), Catch::Contains("--authkey"));
    CHECK_THAT(error_of(kEsp + " --authkey " + hex(20) + " --enckey 0xabc"),
               Catch::Contains("--enckey") && Catch::Contains("odd"));
    CHECK_THAT(error_of(kEsp + kKeys + " --iv 0x1"), Catch::Contains("--iv"));
}

TEST_CASE("grammar errors: options", "[core][command]") {
    // two operations at once
    for (const char* two : {"--esp 3des --del", "--ah hmac-md5-96 --esp 3des", "--ip4 --del",
                            "--del --clear", "--comp deflate --ip4", "--ip4 --ip6"}) {
        INFO(two);
        CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 " + std::string(two)),
                   Catch::Contains("only one of"));
    }
    CHECK_THAT(error_of("eroute --add --del --src 192.0.2.0/24 --dst 198.51.100.0/24 --said "
                        "tun.101@192.0.2.2"),
               Catch::Contains("only one of"));
    CHECK_THAT(error_of("eroute --add --addin --src 192.0.2.0/24 --dst 198.51.100.0/24 --said "
                        "tun.101@192.0.2.2"),
               Catch::Contains("only one of"));
    // options given twice
    CHECK_THAT(error_of(kEsp + kKeys + " --src 192.0.2.3"), Catch::Contains("src"));
    CHECK_THAT(error_of(kEsp + kKeys + " --esp 3des"), Catch::Contains("esp"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --said esp.1001@192.0.2.2 --del"),
               Catch::Contains("said"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --del --del"), Catch::Contains("del"));
    CHECK_THAT(error_of("spi --clear --clear"), Catch::Contains("clear"));
    CHECK_THAT(error_of("eroute --add --src 192.0.2.0/24 --src 192.0.2.0/24 --dst "
                        "198.51.100.0/24 --said tun.101@192.0.2.2"),
               Catch::Contains("src"));
    // unknown options, abbreviations and stray words
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --del --frobnicate"),
               Catch::Contains("frobnicate"));
    CHECK_THAT(error_of("spi --sai esp.1000@192.0.2.2 --del"), Catch::Contains("sai"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --de"), Catch::Contains("de"));
    CHECK_THAT(error_of("spi --said esp.1000@192.0.2.2 --del extra"),
               Catch::Contains("unexpected argument 'extra'"));
    CHECK_THAT(error_of(kEsp + " --enckey 0x0123 4567" + kKeys.substr(kKeys.find(" --authkey"))),
               Catch::Contains("unexpected argument '4567'"));
    CHECK_THAT(error_of("eroute --clear now"), Catch::Contains("unexpected argument 'now'"));
    CHECK_THAT(error_of("spi --clear -- --del"), Catch::Contains("unexpected argument"));
    CHECK_THAT(error_of("spi -x"), Catch::Contains("-x"));
    CHECK_THAT(error_of("eroute --add --bogus"), Catch::Contains("bogus"));
    CHECK_THAT(error_of("spigrp --bogus"), Catch::Contains("--bogus"));
    // an option without its value
    CHECK_THAT(error_of("spi --said"), Catch::Contains("said"));
    CHECK_THAT(error_of(kEsp + " --authkey " + hex(20) + " --enckey"), Catch::Contains("enckey"));
    // options that do not fit the SA
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --ip4 --replay_window 8"),
               Catch::Contains("--replay_window"));
    CHECK_THAT(error_of(kEsp + kKeys + " --replay_window 0"), Catch::Contains("1..4096"));
    CHECK_THAT(error_of(kEsp + kKeys + " --replay_window 4097"), Catch::Contains("1..4096"));
    CHECK(as<SpiAdd>(kEsp + kKeys + " --replay_window 4096").config.replay_window == 4096);
    CHECK_THAT(error_of(kEsp + kKeys + " --replay_window many"), Catch::Contains("bad number"));
    CHECK_THAT(error_of(kEsp + kKeys + " --seq 4294967296"), Catch::Contains("--esn"));
    CHECK(as<SpiAdd>(kEsp + kKeys + " --esn --seq 4294967296").config.initial_seq == 4294967296);
    CHECK_THAT(error_of("spi --said comp.101@192.0.2.2 --comp deflate --esn"),
               Catch::Contains("--esn"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.2 --ip4 --seq 1"), Catch::Contains("--seq"));
}

TEST_CASE("spi --life limits", "[core][command]") {
    const auto life = as<SpiAdd>(kEsp + kKeys +
                                 " --life soft-bytes=1000,hard-packets=20,soft-addtime=30,"
                                 "hard-usetime=0x40,soft-allocations=2,hard-allocations=3")
                          .config.life;
    const auto at = [&](LifeKind k) { return life[static_cast<std::size_t>(k)]; };
    CHECK(at(LifeKind::bytes) == LifeLimit{1000, 0});
    CHECK(at(LifeKind::packets) == LifeLimit{0, 20});
    CHECK(at(LifeKind::addtime) == LifeLimit{30, 0});
    CHECK(at(LifeKind::usetime) == LifeLimit{0, 64});
    CHECK(at(LifeKind::alloc) == LifeLimit{2, 3});

    const auto spaced =
        as<SpiAdd>(kEsp + kKeys + " --life 'soft-bytes=1, hard-bytes=2'").config.life;
    CHECK(spaced[static_cast<std::size_t>(LifeKind::bytes)] == LifeLimit{1, 2});

    CHECK_THAT(error_of(kEsp + kKeys + " --life soft-bytes=1,soft-bytes=2"),
               Catch::Contains("defined twice"));
    CHECK_THAT(error_of(kEsp + kKeys + " --life soft-bytes=x"), Catch::Contains("soft-bytes"));
    CHECK_THAT(error_of(kEsp + kKeys + " --life soft-bytes="), Catch::Contains("soft-bytes"));
    CHECK_THAT(error_of(kEsp + kKeys + " --life medium-bytes=1"), Catch::Contains("soft- or hard"));
    CHECK_THAT(error_of(kEsp + kKeys + " --life soft-kilobytes=1"),
               Catch::Contains("unknown limit 'kilobytes'"));
    CHECK_THAT(error_of(kEsp + kKeys + " --life bytes"), Catch::Contains("--life"));
    CHECK_THAT(error_of(kEsp + kKeys + " --life soft-bytes=1 --life hard-bytes=2"),
               Catch::Contains("life"));
}

TEST_CASE("spi --natt and --policy", "[core][command]") {
    const auto natt = as<SpiAdd>(kEsp + kKeys + " --natt nonesp").config;
    CHECK(natt.natt == NatEncap::nonesp);
    CHECK(natt.natt_sport == 4500);
    CHECK(natt.natt_dport == 4500);
    const auto ports =
        as<SpiAdd>(kEsp + kKeys + " --natt nonesp --sport 1234 --dport 0x1194").config;
    CHECK(ports.natt_sport == 1234);
    CHECK(ports.natt_dport == 4500);
    CHECK(as<SpiAdd>(kEsp + kKeys + " --natt none").config.natt == NatEncap::none);
    CHECK_THAT(error_of(kEsp + kKeys + " --natt nonike2"), Catch::Contains("--natt"));
    CHECK_THAT(error_of(kEsp + kKeys + " --sport 4500"), Catch::Contains("--natt nonesp"));
    CHECK_THAT(error_of(kEsp + kKeys + " --natt nonesp --sport 0"), Catch::Contains("1..65535"));
    CHECK_THAT(error_of(kEsp + kKeys + " --natt nonesp --dport 65536"),
               Catch::Contains("1..65535"));
    CHECK_THAT(error_of("spi --said ah.1000@192.0.2.2 --ah hmac-md5-96 --authkey " + hex(16) +
                        " --natt nonesp"),
               Catch::Contains("esp"));

    const auto tun = as<SpiAdd>(
        "spi --said tun.101@192.0.2.1 --ip4 --src 192.0.2.2 --policy "
        "198.51.100.0/24->203.0.113.0/255.255.255.0");
    REQUIRE(tun.policy);
    CHECK(tun.policy->src.str() == "198.51.100.0/24");
    CHECK(tun.policy->dst.str() == "203.0.113.0/24");
    CHECK_THAT(error_of(kEsp + kKeys + " --policy 198.51.100.0/24->203.0.113.0/24"),
               Catch::Contains("tun"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.1 --ip4 --policy 198.51.100.0/24"),
               Catch::Contains("->"));
    CHECK_THAT(error_of("spi --said tun.101@192.0.2.1 --ip4 --policy "
                        "198.51.100.1/24->203.0.113.0/24"),
               Catch::Contains("host bits") && Catch::Contains("198.51.100.0/24"));
    CHECK_THAT(
        error_of("spi --said tun.101@192.0.2.1 --ip4 --policy 198.51.100.0/24->2001:db8::/32"),
        Catch::Contains("address families"));
}

TEST_CASE("eroute commands", "[core][command]") {
    const std::string nets = " --src 198.51.100.0/24 --dst 203.0.113.0/24";
    const auto add =
        as<ErouteAdd>("eroute --add --eraf inet" + nets + " --said tun.1001@192.0.2.2");
    CHECK(add.src.str() == "198.51.100.0/24");
    CHECK(add.dst.str() == "203.0.113.0/24");
    CHECK(add.said.str() == "tun.1001@192.0.2.2");
    CHECK_FALSE(add.replace);
    CHECK_FALSE(add.inbound);
    CHECK(is_mutation(Command{add}));

    const auto rep = as<ErouteAdd>("eroute --replace" + nets + " --said esp.1000@192.0.2.2");
    CHECK(rep.replace);
    CHECK_FALSE(rep.inbound);
    const auto in = as<ErouteAdd>("eroute --addin" + nets + " --said tun.1001@192.0.2.2");
    CHECK(in.inbound);
    CHECK_FALSE(in.replace);
    const auto repin = as<ErouteAdd>("eroute --replacein" + nets + " --said tun.1001@192.0.2.2");
    CHECK(repin.inbound);
    CHECK(repin.replace);
    const auto longform = as<ErouteAdd>("eroute --add" + nets +
                                        " --af inet --edst 192.0.2.2 --spi 0x1001 --proto tun");
    CHECK(longform.said == add.said);

    const auto del = as<ErouteDel>("eroute --del" + nets);
    CHECK(del.src == add.src);
    CHECK(del.dst == add.dst);
    CHECK(std::holds_alternative<ErouteClear>(ok("eroute --clear")));

    const auto six = as<ErouteAdd>(
        "eroute --add --eraf inet6 --src 2001:db8:1::/48 --dst "
        "2001:db8:2::/48 --said tun:1001@2001:db8::2");
    CHECK(six.dst.str() == "2001:db8:2::/48");
    const auto hosts = as<ErouteAdd>(
        "eroute --add --src 192.0.2.1 --dst 192.0.2.9 --said "
        "tun.1001@192.0.2.2");
    CHECK(hosts.src.bits == 32);

    CHECK_THAT(error_of("eroute --add --src 198.51.100.0/33 --dst 203.0.113.0/24 --said "
                        "tun.1001@192.0.2.2"),
               Catch::Contains("--src") && Catch::Contains("0..32"));
    CHECK_THAT(error_of("eroute --add --src 198.51.100.0/24 --dst 203.0.113.1/24 --said "
                        "tun.1001@192.0.2.2"),
               Catch::Contains("--dst") && Catch::Contains("host bits") &&
                   Catch::Contains("203.0.113.0/24"));
    CHECK_THAT(error_of("eroute --add --src 198.51.100.0/24 --dst 2001:db8::/32 --said "
                        "tun.1001@192.0.2.2"),
               Catch::Contains("address family"));
    CHECK_THAT(error_of("eroute --add --eraf inet6" + nets + " --said tun.1001@192.0.2.2"),
               Catch::Contains("--eraf"));
    CHECK_THAT(error_of("eroute --add --dst 203.0.113.0/24 --said tun.1001@192.0.2.2"),
               Catch::Contains("needs --src"));
    CHECK_THAT(error_of("eroute --add" + nets), Catch::Contains("--said"));
    CHECK_THAT(error_of("eroute --add" + nets + " --said tun.1001@192.0.2.2 --spi 0x1001"),
               Catch::Contains("--said cannot be combined"));
    CHECK_THAT(error_of("eroute --del" + nets + " --said tun.1001@192.0.2.2"),
               Catch::Contains("no SA"));
    CHECK_THAT(error_of("eroute --src 198.51.100.0/24"), Catch::Contains("no operation"));
}

TEST_CASE("spigrp commands", "[core][command]") {
    const auto g = as<Spigrp>("spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2");
    REQUIRE(g.saids.size() == 2);
    CHECK(g.saids[0].str() == "tun.1001@192.0.2.2");
    CHECK(g.saids[1].str() == "esp.1000@192.0.2.2");
    CHECK(is_mutation(Command{g}));

    const auto quads = as<Spigrp>(
        "spigrp inet 192.0.2.2 0x1001 tun inet 192.0.2.2 0x1000 esp inet6 "
        "2001:db8::2 4096 ah");
    REQUIRE(quads.saids.size() == 3);
    CHECK(quads.saids[0] == g.saids[0]);
    CHECK(quads.saids[1] == g.saids[1]);
    CHECK(quads.saids[2].str() == "ah:1000@2001:db8::2");
    CHECK(as<Spigrp>("spigrp --label x --said esp.1000@192.0.2.2").saids.size() == 1);

    CHECK_THAT(error_of("spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2 ah.1000@192.0.2.2 "
                        "comp.1000@192.0.2.2 esp.1001@192.0.2.2"),
               Catch::Contains("at most 4"));
    CHECK_THAT(error_of("spigrp inet 192.0.2.2 0x1001 tun inet 192.0.2.2 0x1002 tun inet "
                        "192.0.2.2 0x1003 tun inet 192.0.2.2 0x1004 tun inet 192.0.2.2 0x1005 tun"),
               Catch::Contains("at most 4"));
    CHECK_THAT(error_of("spigrp --said"), Catch::Contains("at least one"));
    CHECK_THAT(error_of("spigrp --said esp.ff@192.0.2.2"), Catch::Contains("out of range"));
    CHECK_THAT(error_of("spigrp inet 192.0.2.2 0x1001"), Catch::Contains("groups of four"));
    CHECK_THAT(error_of("spigrp inet 192.0.2.2 0xff tun"), Catch::Contains("out of range"));
    CHECK_THAT(error_of("spigrp inet6 192.0.2.2 0x1001 tun"), Catch::Contains("inet6"));
    CHECK_THAT(error_of("spigrp inet 192.0.2.2 0x1001 udp"), Catch::Contains("unknown protocol"));
    CHECK_THAT(error_of("spigrp ipx 192.0.2.2 0x1001 tun"), Catch::Contains("inet or inet6"));
    CHECK_THAT(error_of("spigrp --label"), Catch::Contains("--label"));
}

TEST_CASE("command_usage names every command", "[core][command]") {
    CHECK_THAT(command_usage("spi"), Catch::Contains("--said") && Catch::Contains("--enckey"));
    CHECK_THAT(command_usage("eroute"), Catch::Contains("--addin"));
    CHECK_THAT(command_usage("spigrp"), Catch::Contains("inner to outer"));
    CHECK_THAT(command_usage("look"), Catch::Contains("ipsec look"));
    CHECK_THAT(command_usage("version"), Catch::Contains("ipsec version"));
    CHECK_THAT(command_usage(""), Catch::Contains("--batch"));
}

}  // namespace ipsecfs
