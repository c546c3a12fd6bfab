#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "mountd/lib/daemon_options.hpp"

using namespace ipsecfs::mountd;

namespace {

ipsecfs::Result<DaemonCommandLine> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "ipsec-mountd");
    return parse_daemon_options(static_cast<int>(args.size()), args.data());
}

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char name[] = "/tmp/ipsecfs-options-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = name;
        std::ofstream(path) << text;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("daemon options have the documented defaults", "[control]") {
    auto r = parse({});
    REQUIRE(r.ok());
    const DaemonOptions& o = r->options;
    CHECK(r->action == DaemonCommandLine::Action::run);
    CHECK(o.mount == "/run/ipsec");
    CHECK(o.control == "/run/ipsec-mountd.sock");
    CHECK(o.tun == "ipsec0");
    CHECK(o.packet_engine());
    CHECK(o.state == "/var/lib/ipsecfs/state");
    CHECK_FALSE(o.foreground);
    CHECK(o.replay_window == 32);
    CHECK(o.worker_policy == "batch");
}

TEST_CASE("daemon options come from the command line and the config file", "[control]") {
    TempFile config(
        "# lab daemon\n"
        "mount = /srv/ipsec\n"
        "tun = none\n"
        "replay-window = 128\n"
        "foreground = true\n"
        "control = /tmp/lab.sock\n"
        "worker-policy = other\n");
    auto r =
        parse({"--config", config.path.c_str(), "--control", "/tmp/cli.sock", "--workers", "1"});
    REQUIRE(r.ok());
    const DaemonOptions& o = r->options;
    CHECK(o.mount == "/srv/ipsec");
    CHECK_FALSE(o.packet_engine());
    CHECK(o.replay_window == 128);
    CHECK(o.foreground);
    CHECK(o.control == "/tmp/cli.sock");  // the command line wins
    CHECK(o.workers == 1);
    CHECK(o.worker_policy == "other");
    CHECK(o.worker_nice == -10);  // the defaults
    CHECK(o.fs_nice == 19);
    CHECK(o.fs_busy_rate == 2000);
}

TEST_CASE("the mount's busy rate is a number of requests a second, 0 for no limit", "[control]") {
    auto r = parse({"--fs-busy-rate", "0"});
    REQUIRE(r.ok());
    CHECK(r->options.fs_busy_rate == 0);
    r = parse({"--fs-busy-rate", "1000000"});
    REQUIRE(r.ok());
    CHECK(r->options.fs_busy_rate == 1'000'000);
}

TEST_CASE("bad daemon options are one line", "[control]") {
    for (auto args :
         std::vector<std::vector<const char*>>{{"--replay-window", "0"},
                                               {"--replay-window", "4097"},
                                               {"--workers", "0"},
                                               {"--workers", "2"},
                                               {"--worker-nice", "-21"},
                                               {"--fs-nice", "20"},
                                               {"--worker-policy", "fifo"},
                                               {"--worker-policy", ""},
                                               {"--fs-nice", "x"},
                                               {"--fs-busy-rate", "-1"},
                                               {"--fs-busy-rate", "1000001"},
                                               {"--fs-busy-rate", "x"},
                                               {"--frobnicate"},
                                               {"--mount"},
                                               {"extra"},
                                               {"--config", "/nonexistent/ipsecfs.conf"}}) {
        auto r = parse(args);
        REQUIRE_FALSE(r.ok());
        CHECK_FALSE(r.error().empty());
        CHECK(r.error().find('\n') == std::string::npos);
    }
    TempFile bad("no-such-option = 1\n");
    auto r = parse({"--config", bad.path.c_str()});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find(bad.path) != std::string::npos);
}

TEST_CASE("daemon --help and --version", "[control]") {
    auto help = parse({"--help"});
    REQUIRE(help.ok());
    CHECK(help->action == DaemonCommandLine::Action::help);
    CHECK(help->help.find("--replay-window") != std::string::npos);
    CHECK(parse({"--version"})->action == DaemonCommandLine::Action::version);
}

TEST_CASE("the --discard-state option is for the command line only", "[control][state]") {
    CHECK_FALSE(parse({})->options.discard_state);
    auto r = parse({"--discard-state", "--state", "/tmp/x/state"});
    REQUIRE(r.ok());
    CHECK(r->options.discard_state);
    CHECK(r->options.state == "/tmp/x/state");
    TempFile config("discard-state = true\n");
    auto from_file = parse({"--config", config.path.c_str()});
    REQUIRE_FALSE(from_file.ok());
    CHECK(from_file.error().find("discard-state") != std::string::npos);
}
