#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/command.hpp"
#include "core/render.hpp"
#include "mountd/lib/daemon_options.hpp"
#include "mountd/lib/startup_file.hpp"

using namespace ipsecfs;
using namespace ipsecfs::mountd;
using namespace std::string_literals;

namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/ipsecfs-startup-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name, const std::string& text) const {
        const std::string p = path + "/" + name;
        std::ofstream(p) << text;
        return p;
    }
};

struct Fixture {
    Sadb sadb{[] {
        Sadb::Environment env;
        env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
        env.now_ns = [] { return kNow; };
        return env;
    }()};
    DataplaneStatus status;
    ControlService service{sadb, status, [] { return kNow; }};
};

const std::string kEsp =
    " --src 192.0.2.9 --esp aes128gcm16 --enckey 0x000102030405060708090a0b0c0d0e0f10111213\n";

}  // namespace

TEST_CASE("a startup file is applied in one transaction", "[control]") {
    TempDir dir;
    const std::string path = dir.file("ipsec.startup",
                                      "# lab SAs\n"
                                      "ipsec spi --said esp.1000@192.0.2.1" +
                                          kEsp + "\nspi --said esp.1001@192.0.2.1" + kEsp);
    auto file = read_startup_file(path);
    REQUIRE(file.ok());
    CHECK(file->path == path);
    CHECK(file->lines.size() == 2);
    CHECK(file->lines[1].line == 4);
    Fixture f;
    REQUIRE(apply_startup_file(*file, f.sadb, f.service).ok());
    CHECK(f.sadb.snapshot()->size() == 2);
}

TEST_CASE("a startup file error names the file and the line", "[control]") {
    TempDir dir;
    const std::string bad_option =
        dir.file("a", "spi --said esp.1000@192.0.2.1" + kEsp + "\nspi --frobnicate\n");
    auto parsed = read_startup_file(bad_option);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().rfind("startup file " + bad_option + ": line 3: ", 0) == 0);

    const std::string show = dir.file("b", "look\n");
    auto shown = read_startup_file(show);
    REQUIRE_FALSE(shown.ok());
    CHECK(shown.error().rfind("startup file " + show + ": line 1: 'look' here only shows", 0) == 0);

    // Refused by the SADB (the SA exists twice): nothing at all is applied.
    const std::string twice = dir.file(
        "c", "spi --said esp.1000@192.0.2.1" + kEsp + "spi --said esp.1000@192.0.2.1" + kEsp);
    auto file = read_startup_file(twice);
    REQUIRE(file.ok());
    Fixture f;
    auto applied = apply_startup_file(*file, f.sadb, f.service);
    REQUIRE_FALSE(applied.ok());
    CHECK(applied.error().rfind("startup file " + twice + ": line 2: ", 0) == 0);
    CHECK(f.sadb.snapshot()->size() == 0);
}

TEST_CASE("a startup file marked with - may be missing", "[control]") {
    TempDir dir;
    const std::string missing = dir.path + "/missing";
    auto required = read_startup_file(missing);
    REQUIRE_FALSE(required.ok());
    CHECK(required.error() == "startup file " + missing + ": No such file or directory");

    auto optional = read_startup_file("-" + missing);
    REQUIRE(optional.ok());
    CHECK(optional->lines.empty());
    auto none = read_startup_file("");
    REQUIRE(none.ok());
    CHECK(none->lines.empty());
    Fixture f;
    CHECK(apply_startup_file(*optional, f.sadb, f.service).ok());

    // A present optional file is read like any other.
    const std::string present = dir.file("present", "spi --said esp.1000@192.0.2.1" + kEsp);
    auto read = read_startup_file("-" + present);
    REQUIRE(read.ok());
    CHECK(read->lines.size() == 1);
}

TEST_CASE("a startup file keeps what the state file restored", "[control]") {
    Fixture f;
    // What a state file brought back: an SA, a tunnel SA with its inbound policy, an eroute.
    auto tx = f.sadb.begin();
    for (const std::string& line :
         {"spi --said esp.1000@192.0.2.1" + kEsp,
          "spi --said tun.1001@192.0.2.1 --ip4 --src 192.0.2.9 --dst 192.0.2.1"s,
          "eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said esp.1000@192.0.2.1"s,
          "eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said tun.1001@192.0.2.1"s}) {
        auto words = split_command_line(line);
        REQUIRE(words.ok());
        auto command = parse_command(*words);
        REQUIRE(command.ok());
        REQUIRE(tx.apply(*command).ok());
    }
    tx.commit();
    const SaPtr restored =
        f.sadb.snapshot()->find_shared(Said::parse("esp.1000@192.0.2.1").value());

    TempDir dir;
    const std::string path = dir.file(
        "s",
        "spi --said esp.1000@192.0.2.1" + kEsp + "spi --said esp.1002@192.0.2.1" + kEsp +
            "eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said esp.1002@192.0.2.1\n"
            "eroute --addin --src 203.0.113.0/24 --dst 198.51.100.0/24 --said tun.1001@192.0.2.1\n"
            "eroute --add --src 198.51.100.0/24 --dst 192.0.2.0/24 --said esp.1002@192.0.2.1\n");
    auto file = read_startup_file(path);
    REQUIRE(file.ok());
    auto applied = apply_startup_file(*file, f.sadb, f.service);
    REQUIRE(applied.ok());
    const std::string who = "startup file " + path;
    CHECK(*applied ==
          std::vector<std::string>{
              who + ": line 1: SA esp.1000@192.0.2.1 kept as the state file restored it",
              who + ": line 3: eroute 198.51.100.0/24 -> 203.0.113.0/24 kept as the state file "
                    "restored it",
              who + ": line 4: inbound policy of tun.1001@192.0.2.1 kept as the state file "
                    "restored it"});
    const auto snap = f.sadb.snapshot();
    CHECK(snap->find_shared(Said::parse("esp.1000@192.0.2.1").value()) == restored);
    CHECK(snap->find(Said::parse("esp.1002@192.0.2.1").value()) != nullptr);
    CHECK(snap->eroutes().size() == 2);

    // After a deletion nothing is skipped: the SA is gone, so the line adds it again.
    const std::string fresh = dir.file("t", "spi --clear\nspi --said esp.1000@192.0.2.1" + kEsp);
    auto cleared = read_startup_file(fresh);
    REQUIRE(cleared.ok());
    auto reapplied = apply_startup_file(*cleared, f.sadb, f.service);
    REQUIRE(reapplied.ok());
    CHECK(reapplied->empty());
    CHECK(f.sadb.snapshot()->size() == 1);
    CHECK(f.sadb.snapshot()->find_shared(Said::parse("esp.1000@192.0.2.1").value()) != restored);
}

TEST_CASE("the --startup file comes from the command line or the config file", "[control]") {
    const auto parse = [](std::vector<const char*> args) {
        args.insert(args.begin(), "ipsec-mountd");
        return parse_daemon_options(static_cast<int>(args.size()), args.data());
    };
    auto unset = parse({});
    REQUIRE(unset.ok());
    CHECK(unset->options.startup.empty());
    auto given = parse({"--startup", "-/etc/ipsecfs/ipsec.startup"});
    REQUIRE(given.ok());
    CHECK(given->options.startup == "-/etc/ipsecfs/ipsec.startup");
    TempDir dir;
    const std::string config = dir.file("conf", "startup = /srv/sas\n");
    auto from_file = parse({"--config", config.c_str()});
    REQUIRE(from_file.ok());
    CHECK(from_file->options.startup == "/srv/sas");
    auto dash = parse({"--startup=-"});
    REQUIRE_FALSE(dash.ok());
    CHECK(dash.error() == "--startup must name a file");
}
