// The state file on disk and the keeper around it: atomic writes with the right modes, one daemon
// per file, damaged files refused or moved aside, reservations made durable before they are
// used, and SAs that come back after a kill or a clean stop where they left off.

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/state_codec.hpp"
#include "mountd/lib/state_keeper.hpp"
#include "mountd/lib/state_store.hpp"
#include "netpath/engine.hpp"
#include "netpath/sa_state.hpp"
#include "tests/support/core_helpers.hpp"

using namespace ipsecfs;
using namespace ipsecfs::mountd;
namespace stdfs = std::filesystem;

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr uint64_t kBlock = SequenceReservation::kMinBlock;

struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/ipsecfs-state-XXXXXX";
        REQUIRE(::mkdtemp(name));
        path = name;
    }
    ~TempDir() { stdfs::remove_all(path); }
};

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

StateBytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return StateBytes(v.begin(), v.end());
}

SavedSadb decode_file(const std::string& path) {
    StateDecode d = decode_state(read_file(path));
    INFO(d.message);
    REQUIRE(d.state);
    return std::move(*d.state);
}

SequenceReservation* reservation_of(const Sa& sa) {
    netpath::SaState* st = netpath::state_of(sa);
    return st ? st->reservation() : nullptr;
}

// A daemon's SADB and keeper as ipsec-mountd wires them, on a host that owns 192.0.2.1, with a
// clock the test moves. Destroying it without stop() is a SIGKILL as far as the file knows.
struct Host {
    int64_t now = 1'700'000'000 * kSecond;
    std::vector<std::string> log;
    std::unique_ptr<Sadb> sadb;
    std::unique_ptr<StateKeeper> keeper;

    explicit Host(const std::string& path, bool discard = false) {
        Sadb::Environment env;
        env.now_ns = [this] { return now; };
        env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
        env.make_runtime = netpath::Engine::make_reserved_runtime;
        env.on_commit = [this](const SadbSnapshot&, const SadbSnapshot&) {
            if (keeper) keeper->on_commit();
        };
        sadb = std::make_unique<Sadb>(std::move(env));
        StateKeeper::Environment k;
        k.now_ns = [this] { return now; };
        k.reservation_of = reservation_of;
        k.log = [this](const std::string& line) { log.push_back(line); };
        auto opened = StateKeeper::open({path, discard}, *sadb, k);
        INFO((opened ? std::string("ok") : opened.error()));
        REQUIRE(opened);
        keeper = std::move(*opened);
    }
    ~Host() {
        keeper.reset();
        sadb.reset();
    }
    void must(const std::string& line) {
        auto r = sadb->apply(testing::command(line));
        INFO(line << " -> " << (r ? std::string("ok") : r.error()));
        REQUIRE(r);
    }
    const Sa& sa(const std::string& said) const {
        const Sa* p = sadb->snapshot()->find(testing::said(said));
        REQUIRE(p);
        return *p;
    }
};

const std::string kOut =
    "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey "
    "0x000102030405060708090a0b0c0d0e0f10111213";
const std::string kIn =
    "spi --said esp.2000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "
    "0x101112131415161718191a1b1c1d1e1f20212223 --replay_window 128";

uint64_t saved_reservation(const std::string& path, const std::string& said) {
    for (const SavedSa& s : decode_file(path).sas) {
        if (s.config.said == testing::said(said)) return s.seq_reserved;
    }
    FAIL("no " << said << " in " << path);
    return 0;
}

}  // namespace

TEST_CASE("the state file is written whole, 0600, in a directory made 0700", "[state]") {
    TempDir tmp;
    const std::string path = tmp.path + "/var/lib/ipsecfs/state";
    auto store = StateStore::open(path);
    REQUIRE(store);
    CHECK(mode_of(tmp.path + "/var") == 0700);
    CHECK(mode_of(tmp.path + "/var/lib/ipsecfs") == 0700);
    auto missing = store->load();
    REQUIRE(missing);
    CHECK(missing->missing);

    const StateBytes first = encode_state(SavedSadb{});
    REQUIRE(store->write(first));
    CHECK(mode_of(path) == 0600);
    CHECK(read_file(path) == first);
    SavedSadb later;
    later.saved_at_ns = 42;
    const StateBytes second = encode_state(later);
    REQUIRE(store->write(second));
    CHECK(read_file(path) == second);
    CHECK_FALSE(stdfs::exists(path + ".tmp"));
    auto loaded = store->load();
    REQUIRE(loaded);
    REQUIRE(loaded->decoded.state);
    CHECK(loaded->decoded.state->saved_at_ns == 42);

    // One daemon per state file; the lock goes with the store.
    auto other = StateStore::open(path);
    REQUIRE_FALSE(other);
    CHECK(other.error() == "state file " + path + " is in use by another ipsec-mountd");
    store = StateStore::open(tmp.path + "/elsewhere");  // releases the first
    CHECK(StateStore::open(path));

    // Moved aside under its own name.
    auto again = StateStore::open(path);
    REQUIRE(again);
    auto moved = again->move_aside(1234);
    REQUIRE(moved);
    CHECK(*moved == path + ".bad-1234");
    CHECK(read_file(*moved) == second);
    CHECK_FALSE(stdfs::exists(path));
}

TEST_CASE("a damaged state file refuses the start, or is moved aside", "[state]") {
    TempDir tmp;
    const std::string path = tmp.path + "/state";
    {
        Host d(path);
        d.must(kOut);
    }
    StateBytes good = read_file(path);
    struct Damage {
        std::string name;
        StateBytes bytes;
        std::string message;
    };
    StateBytes flipped = good;
    flipped[good.size() / 2] ^= 0x10;
    StateBytes versioned = good;
    versioned[11] = 9;
    const std::vector<Damage> damages = {
        {"truncated", StateBytes(good.begin(), good.begin() + 100),
         "truncated: 100 bytes, the header announces " + std::to_string(good.size())},
        {"flipped", flipped, "corrupt: checksum mismatch"},
        {"version", versioned, "unknown format version 9 (this ipsec-mountd reads version 1)"},
    };
    for (const Damage& damage : damages) {
        SECTION(damage.name) {
            std::ofstream(path, std::ios::binary | std::ios::trunc)
                .write(reinterpret_cast<const char*>(damage.bytes.data()),
                       static_cast<std::streamsize>(damage.bytes.size()));
            Sadb sadb{Sadb::Environment{}};
            StateKeeper::Environment env;
            env.now_ns = [] { return 1'700'000'000 * kSecond; };
            auto refused = StateKeeper::open({path}, sadb, env);
            REQUIRE_FALSE(refused);
            CHECK(refused.error() == "state file " + path + ": " + damage.message +
                                         "; --discard-state moves it aside");
            CHECK(read_file(path) == damage.bytes);  // untouched
            CHECK(sadb.snapshot()->size() == 0);

            std::vector<std::string> log;
            env.log = [&](const std::string& line) { log.push_back(line); };
            auto discarded = StateKeeper::open({path, true}, sadb, env);
            REQUIRE(discarded);
            CHECK(sadb.snapshot()->size() == 0);
            REQUIRE(log.size() == 1);
            CHECK(log[0] == "state file " + path + ": " + damage.message +
                                "; discarded it (moved to " + path +
                                ".bad-1700000000), starting with no SAs");
            CHECK_FALSE(stdfs::exists(path));
            CHECK(read_file(path + ".bad-1700000000") == damage.bytes);
        }
    }
}

TEST_CASE("reservations are durable before use and extended at half", "[state][reservation]") {
    TempDir tmp;
    const std::string path = tmp.path + "/state";
    Host d(path);
    CHECK_FALSE(stdfs::exists(path));  // nothing to save yet
    d.must(kOut);
    d.must(kIn);
    const Sa& out = d.sa("esp.1000@192.0.2.2");
    SequenceReservation* r = reservation_of(out);
    REQUIRE(r);
    CHECK_FALSE(reservation_of(d.sa("esp.2000@192.0.2.1")));
    // The commit wrote the first block and only then allowed it.
    CHECK(r->mark() == kBlock);
    CHECK(saved_reservation(path, "esp.1000@192.0.2.2") == kBlock);

    // The packet path publishes the last number sent; half of the block used → extended by a
    // block sized by the rate since the last extension.
    out.counters().seq.set(kBlock / 2 - 1);
    d.now += kSecond;
    d.keeper->pass();
    CHECK(r->mark() == kBlock);
    out.counters().seq.set(kBlock / 2);
    d.keeper->pass();
    CHECK(r->mark() == kBlock / 2 + kBlock);
    CHECK(saved_reservation(path, "esp.1000@192.0.2.2") == r->mark());

    // Fast: 64,536 numbers in 1/32 s, two million a second → a block of 2^22.
    out.counters().seq.set(kBlock / 2 + kBlock - 1000);
    d.now += kSecond / 32;
    d.keeper->pass();
    CHECK(r->mark() == kBlock / 2 + kBlock - 1000 + (uint64_t{1} << 22));
    CHECK(saved_reservation(path, "esp.1000@192.0.2.2") == r->mark());

    // Whatever happens, the file never holds less than the packet path may use.
    for (int i = 0; i < 50; ++i) {
        out.counters().seq.set(r->mark() - static_cast<uint64_t>(i) * 97);
        d.now += kSecond / 10;
        d.keeper->pass();
        CHECK(saved_reservation(path, "esp.1000@192.0.2.2") >= r->mark());
    }
}

TEST_CASE("a failed write leaves the reservation where it was", "[state][reservation]") {
    TempDir tmp;
    const std::string dir = tmp.path + "/d";
    Host d(dir + "/state");
    d.must(kOut);
    const Sa& out = d.sa("esp.1000@192.0.2.2");
    SequenceReservation* r = reservation_of(out);
    REQUIRE(r->mark() == kBlock);
    stdfs::rename(dir, tmp.path + "/gone");  // the directory vanished: writes fail
    out.counters().seq.set(kBlock - 10);
    d.keeper->pass();
    d.keeper->pass();
    CHECK(r->mark() == kBlock);
    auto failed = d.keeper->save();
    REQUIRE_FALSE(failed);
    CHECK_THAT(failed.error(), Catch::Contains("cannot write"));
    REQUIRE(d.log.size() == 1);  // reported once, not per attempt
    CHECK(d.log[0] == failed.error());

    stdfs::rename(tmp.path + "/gone", dir);
    d.keeper->pass();
    CHECK(r->mark() == kBlock - 10 + kBlock);
    CHECK(d.log.back() == "state file " + dir + "/state written again");
}

TEST_CASE("after a kill, SAs come back above their reservation with their counters",
          "[state][reservation]") {
    TempDir tmp;
    const std::string path = tmp.path + "/state";
    int64_t added = 0;
    uint64_t mark = 0;
    {
        Host d(path);
        d.must(kOut);
        d.now += 5 * kSecond;
        d.must(kIn);
        d.must("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said esp.1000@192.0.2.2");
        const Sa& out = d.sa("esp.1000@192.0.2.2");
        added = out.added_ns();
        out.counters().seq.set(1234);
        out.counters().packets.set(1234);
        out.counters().bytes.set(99999);
        const Sa& in = d.sa("esp.2000@192.0.2.1");
        in.counters().seq.set(5000);
        in.counters().bitmap.set(0xfffffffffffffffdull);
        in.counters().packets.set(4000);
        d.sadb->snapshot()->eroutes()[0].packets->set(1234);
        REQUIRE(d.keeper->save());
        mark = reservation_of(out)->mark();
        out.counters().packets.set(2000);  // after the last write: lost with the kill
    }                                      // SIGKILL: no final write

    Host d(path);
    d.now += 60 * kSecond;
    REQUIRE(d.log.size() == 1);
    CHECK_THAT(d.log[0], Catch::StartsWith("restored 2 SAs, 0 groups, 1 eroutes from " + path) &&
                             Catch::Contains("not saved at a clean stop"));
    const Sa& out = d.sa("esp.1000@192.0.2.2");
    CHECK(out.added_ns() == added);
    CHECK(out.counters().packets.get() == 1234);
    CHECK(out.counters().bytes.get() == 99999);
    CHECK(d.sadb->snapshot()->eroutes()[0].packets->get() == 1234);
    // Numbers up to the old mark may have gone out: the SA continues above it, with a new
    // reservation written before the engine could use it.
    CHECK(out.config().initial_seq == mark);
    CHECK(out.counters().seq.get() == mark);
    CHECK(netpath::state_of(out)->sequence()->last() == mark);
    CHECK(reservation_of(out)->mark() == mark + kBlock);
    CHECK(saved_reservation(path, "esp.1000@192.0.2.2") == mark + kBlock);

    const Sa& in = d.sa("esp.2000@192.0.2.1");
    const ReplayWindow* w = netpath::state_of(in)->replay();
    CHECK(w->highest() == 5000);
    CHECK(w->bitmap64() == 0xfffffffffffffffdull);
    CHECK(w->check(4999).verdict == ReplayWindow::Verdict::ok);  // bit 1 clear: not received
    CHECK(w->check(5000).verdict == ReplayWindow::Verdict::replay);
    CHECK(w->check(4900).verdict == ReplayWindow::Verdict::replay);  // older than the bitmap
}

TEST_CASE("a clean stop saves the last number sent, and nothing is skipped", "[state]") {
    TempDir tmp;
    const std::string path = tmp.path + "/state";
    {
        Host d(path);
        d.must(kOut);
        d.sa("esp.1000@192.0.2.2").counters().seq.set(777);
        REQUIRE(d.keeper->stop());
    }
    CHECK(decode_file(path).clean_shutdown);
    CHECK(saved_reservation(path, "esp.1000@192.0.2.2") == 777);
    Host d(path);
    CHECK_THAT(d.log.at(0), !Catch::Contains("clean stop"));
    CHECK(netpath::state_of(d.sa("esp.1000@192.0.2.2"))->sequence()->last() == 777);
}

TEST_CASE("the keeper visits the SAs only once enough packets could have passed",
          "[state][reservation]") {
    TempDir tmp;
    uint64_t activity = 0;
    Sadb::Environment env;
    env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
    env.make_runtime = netpath::Engine::make_reserved_runtime;
    StateKeeper* keeper = nullptr;
    env.on_commit = [&](const SadbSnapshot&, const SadbSnapshot&) {
        if (keeper) keeper->on_commit();
    };
    Sadb sadb(std::move(env));
    StateKeeper::Environment k;
    k.now_ns = [] { return 1'700'000'000 * kSecond; };
    k.reservation_of = reservation_of;
    k.activity = [&] { return activity; };
    auto opened = StateKeeper::open({tmp.path + "/state"}, sadb, k);
    REQUIRE(opened);
    keeper = opened->get();
    REQUIRE(sadb.apply(testing::command(kOut)));
    const Sa& out = *sadb.snapshot()->find(testing::said("esp.1000@192.0.2.2"));
    SequenceReservation* r = reservation_of(out);
    REQUIRE(r->mark() == kBlock);
    keeper->pass();  // a first look: kBlock / 2 numbers to go, so kBlock / 4 packets of slack
    // The number moved without a packet counted anywhere (as no packet path can): not seen.
    out.counters().seq.set(kBlock / 2 + 10);
    activity += kBlock / 4 - 1;
    keeper->pass();
    CHECK(r->mark() == kBlock);
    activity += 1;
    keeper->pass();
    CHECK(r->mark() == kBlock / 2 + 10 + kBlock);
}

TEST_CASE("counters are written periodically only when they moved", "[state]") {
    TempDir tmp;
    const std::string path = tmp.path + "/state";
    uint64_t activity = 0;
    Sadb sadb{Sadb::Environment{}};
    StateKeeper::Environment env;
    env.now_ns = [] { return int64_t{1}; };
    env.activity = [&] { return activity; };
    StateKeeper::Options options{path};
    options.periodic = std::chrono::milliseconds(0);
    auto keeper = StateKeeper::open(options, sadb, env);
    REQUIRE(keeper);
    (*keeper)->pass();
    CHECK_FALSE(stdfs::exists(path));  // nothing moved
    activity = 5;
    (*keeper)->pass();
    CHECK(stdfs::exists(path));
    stdfs::remove(path);
    (*keeper)->pass();
    CHECK_FALSE(stdfs::exists(path));
}
