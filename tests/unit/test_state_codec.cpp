// The state file's bytes: a SADB with every kind of SA, group, eroute and policy survives
// encode → decode → restore unchanged, and every damage to the bytes is named, never a crash.

#include <zlib.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/crc32.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "core/saved_sadb.hpp"
#include "core/state_codec.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs {
namespace {

using testing::command;
using testing::ip;
using testing::said;

constexpr int64_t kSecond = 1'000'000'000;

std::string key(std::size_t bytes, unsigned seed) {
    std::string s = "0x";
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes; ++i) {
        const unsigned b = (static_cast<unsigned>(i) * 29u + seed * 53u + 1u) & 0xffu;
        s += kHex[b >> 4];
        s += kHex[b & 15];
    }
    return s;
}

// A host owning 192.0.2.1 and 2001:db8::1, with a clock the test moves.
struct Host {
    int64_t now = 1'700'000'000 * kSecond;
    std::set<IpAddress> local{ip("192.0.2.1"), ip("2001:db8::1")};
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
};

// Every kind of SA (each ESP suite, AH, IPCOMP, IPIP; in and out; IPv4 and IPv6; ESN, NAT-T, a
// fixed IV, lifetimes, --seq, replay windows), groups (one left incomplete by a delete),
// eroutes (one naming a deleted SA), policies from --policy and eroute --addin; each added at
// its own time, with counters of its own.
void fill(Host& h) {
    const std::vector<std::pair<std::string, std::pair<int, int>>> suites = {
        {"3des", {24, 0}},
        {"3des-md5-96", {24, 16}},
        {"3des-sha1-96", {24, 20}},
        {"aes128-sha1-96", {16, 20}},
        {"aes192-sha1-96", {24, 20}},
        {"aes256-sha1-96", {32, 20}},
        {"aes128-sha2_256-128", {16, 32}},
        {"aes256-sha2_256-128", {32, 32}},
        {"null-sha1-96", {0, 20}},
        {"aes128gcm16", {20, 0}},
        {"aes256gcm16", {36, 0}},
        {"chacha20poly1305", {36, 0}},
    };
    unsigned seed = 1;
    auto keys = [&](const std::pair<int, int>& k) {
        std::string s;
        if (k.first) s += " --enckey " + key(static_cast<std::size_t>(k.first), seed++);
        if (k.second) s += " --authkey " + key(static_cast<std::size_t>(k.second), seed++);
        return s;
    };
    uint32_t spi = 0x1000;
    for (const auto& [name, k] : suites) {
        char out[96], in[96];
        std::snprintf(out, sizeof out, "spi --said esp.%x@192.0.2.2 --src 192.0.2.1", spi++);
        std::snprintf(in, sizeof in, "spi --said esp.%x@192.0.2.1 --src 192.0.2.2", spi++);
        h.must(std::string(out) + " --esp " + name + keys(k));
        h.must(std::string(in) + " --esp " + name + keys(k));
        h.now += kSecond;
    }
    h.must("spi --said esp.2000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey " +
           key(20, 90) +
           " --esn --seq 4294967300 --natt nonesp --sport 4501 --dport 4502"
           " --life soft-bytes=1000,hard-bytes=2000,soft-addtime=30,hard-addtime=60,"
           "soft-usetime=5,hard-usetime=10,soft-packets=7,hard-packets=9,soft-allocations=3,"
           "hard-allocations=4");
    h.must("spi --said esp.2001@192.0.2.1 --src 192.0.2.2 --esp aes128-sha1-96 --enckey " +
           key(16, 91) + " --authkey " + key(20, 92) +
           " --replay_window 4096 --esn --seq 77 --iv 0x0001020304050607");
    h.must("spi --said esp:2002@2001:db8::2 --src 2001:db8::1 --esp aes256gcm16 --enckey " +
           key(36, 93));
    h.must("spi --said esp:2003@2001:db8::1 --src 2001:db8::2 --esp chacha20poly1305 --enckey " +
           key(36, 94) + " --replay_window 1");
    h.must("spi --said ah.3000@192.0.2.2 --src 192.0.2.1 --ah hmac-sha2_256-128 --authkey " +
           key(32, 95));
    h.must("spi --said ah.3001@192.0.2.1 --src 192.0.2.2 --ah hmac-md5-96 --authkey " +
           key(16, 96));
    h.must("spi --said ah:3002@2001:db8::1 --src 2001:db8::2 --ah hmac-sha1-96 --authkey " +
           key(20, 97));
    h.must("spi --said comp.400@192.0.2.2 --src 192.0.2.1 --comp deflate");
    h.must("spi --said comp.401@192.0.2.1 --src 192.0.2.2 --comp deflate");
    h.must("spi --said tun.5000@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2");
    h.must(
        "spi --said tun.5001@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1"
        " --policy 203.0.113.0/24->198.51.100.0/24");
    h.must("spi --said tun:5002@2001:db8::1 --ip6 --src 2001:db8::2 --dst 2001:db8::1");
    h.must("spi --said tun.5003@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.9");
    h.must(
        "spigrp --said tun.5000@192.0.2.2 comp.400@192.0.2.2 esp.1000@192.0.2.2 "
        "ah.3000@192.0.2.2");
    h.must(
        "spigrp --said tun.5001@192.0.2.1 comp.401@192.0.2.1 esp.2001@192.0.2.1 "
        "ah.3001@192.0.2.1");
    h.must("spigrp --said tun:5002@2001:db8::1 ah:3002@2001:db8::1");
    h.must("spigrp --said tun.5003@192.0.2.2 esp.1002@192.0.2.2");
    h.must("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.5000@192.0.2.2");
    h.must("eroute --add --src 198.51.100.7/32 --dst 203.0.113.0/25 --said esp.2000@192.0.2.2");
    h.must("eroute --add --src 2001:db8:1::/48 --dst 2001:db8:2::/48 --said esp:2002@2001:db8::2");
    h.must("eroute --add --src 0.0.0.0/0 --dst 192.0.2.128/25 --said tun.5003@192.0.2.2");
    h.must(
        "eroute --addin --src 2001:db8:2::/48 --dst 2001:db8:1::/48 "
        "--said ah:3002@2001:db8::1");
    // The group of tun.5003 goes down with its ESP SA; its eroute stays.
    h.must("spi --said esp.1002@192.0.2.2 --del");

    uint64_t n = 11;
    for (const auto& [s, sa] : h.db.snapshot()->sas()) {
        SaCounters& k = sa->counters();
        k.bytes.set(n * 1000 + 1);
        k.packets.set(n * 10 + 2);
        k.first_use_ns.store(h.now - static_cast<int64_t>(n) * kSecond);
        k.last_use_ns.store(h.now - static_cast<int64_t>(n));
        k.ooo_errs.set(n + 3);
        k.auth_errs.set(n + 4);
        k.encr_size_errs.set(n + 5);
        k.encr_pad_errs.set(n + 6);
        k.comp_uncompressed.set(n * 7);
        k.comp_compressed.set(n * 5);
        k.drops[static_cast<std::size_t>(DropReason::replay)].set(n + 3);
        k.drops[static_cast<std::size_t>(DropReason::tx_error)].set(n);
        k.drops[static_cast<std::size_t>(DropReason::seq_unreserved)].set(2 * n);
        k.seq.set(std::max(n * 100, sa->config().initial_seq));  // the runtime starts it there
        k.bitmap.set(0xf0f0f0f0f0f0f0f1ull ^ n);
        k.max_seq_diff.set(n / 3);
        k.life_state.store(n % 2 ? LifeState::dying : LifeState::mature);
        k.soft_cause.store(static_cast<uint8_t>(n % 8));
        k.soft_reported.store(n % 3 == 0);
        k.soft_value.store(n * 13);
        k.hard_value.store(n * 17);
        ++n;
    }
    uint64_t e = 5;
    for (const Eroute& r : h.db.snapshot()->eroutes())
        r.packets->set(e++ * 1000);
}

bool same_config(const SaConfig& a, const SaConfig& b) {
    return a.said == b.said && a.xform == b.xform && a.dir == b.dir && a.src == b.src &&
           a.tunnel_dst == b.tunnel_dst && a.enc_key == b.enc_key && a.auth_key == b.auth_key &&
           a.iv == b.iv && a.replay_window == b.replay_window && a.esn == b.esn &&
           a.initial_seq == b.initial_seq && a.natt == b.natt && a.natt_sport == b.natt_sport &&
           a.natt_dport == b.natt_dport && a.life == b.life;
}

void check_same(const SavedSadb& a, const SavedSadb& b) {
    CHECK(a.saved_at_ns == b.saved_at_ns);
    CHECK(a.clean_shutdown == b.clean_shutdown);
    REQUIRE(a.sas.size() == b.sas.size());
    for (std::size_t i = 0; i < a.sas.size(); ++i) {
        INFO(a.sas[i].config.said.str());
        CHECK(same_config(a.sas[i].config, b.sas[i].config));
        CHECK(a.sas[i].added_ns == b.sas[i].added_ns);
        CHECK(a.sas[i].counters == b.sas[i].counters);
        CHECK(a.sas[i].seq_reserved == b.sas[i].seq_reserved);
    }
    CHECK(a.groups == b.groups);
    CHECK(a.eroutes == b.eroutes);
    CHECK(a.policies == b.policies);
}

SavedSadb full_state(Host& h) {
    fill(h);
    SavedSadb st = save_sadb(*h.db.snapshot(), h.now);
    std::size_t i = 0;
    for (SavedSa& s : st.sas) {
        if (s.config.dir == Direction::out) s.seq_reserved = s.counters.seq + 65536 + i++;
    }
    st.clean_shutdown = true;
    return st;
}

// A file with one SA, one group, one eroute and one policy: small enough to damage everywhere.
StateBytes small_file() {
    Host h;
    h.must(
        "spi --said tun.5001@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1"
        " --policy 203.0.113.0/24->198.51.100.0/24");
    h.must("spi --said esp.1001@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey " +
           key(20, 3));
    h.must("spigrp --said tun.5001@192.0.2.1 esp.1001@192.0.2.1");
    h.must("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.5001@192.0.2.1");
    return encode_state(save_sadb(*h.db.snapshot(), h.now));
}

// Replaces the trailing CRC so that a changed file passes the checksum.
void reseal(StateBytes& b) {
    const std::size_t end = b.size() - 4;
    const uint32_t crc = crc32(0, std::span<const uint8_t>(b.data(), end));
    for (int i = 0; i < 4; ++i)
        b[end + static_cast<std::size_t>(i)] = static_cast<uint8_t>(crc >> (8 * (3 - i)));
}

}  // namespace

TEST_CASE("crc32 is zlib's", "[state]") {
    const std::string text = "123456789";
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()),
                                         text.size());
    CHECK(crc32(0, bytes) == 0xcbf43926u);
    CHECK(crc32(crc32(0, bytes.first(4)), bytes.subspan(4)) == 0xcbf43926u);
    std::mt19937 rng(7);
    std::vector<uint8_t> data(1000);
    for (auto& b : data)
        b = static_cast<uint8_t>(rng());
    CHECK(crc32(0, data) == ::crc32(0, data.data(), static_cast<uInt>(data.size())));
}

TEST_CASE("a SADB with every kind of SA, group, eroute and policy round-trips", "[state]") {
    Host h;
    const SavedSadb st = full_state(h);
    REQUIRE(st.sas.size() == 24 + 13 - 1);
    REQUIRE(st.groups.size() == 4);
    REQUIRE(st.eroutes.size() == 4);
    REQUIRE(st.policies.size() == 2);
    const StateBytes bytes = encode_state(st);
    static_assert(std::is_same_v<StateBytes::allocator_type, WipingAllocator<uint8_t>>,
                  "the encoded state holds keys");
    StateDecode d = decode_state(bytes);
    INFO(d.message);
    REQUIRE(d.problem == StateProblem::none);
    REQUIRE(d.state);
    check_same(st, *d.state);
    CHECK(encode_state(*d.state) == bytes);
}

TEST_CASE("a restored SADB renders exactly like the one saved", "[state]") {
    Host before;
    const SavedSadb st = full_state(before);
    StateDecode d = decode_state(encode_state(st));
    REQUIRE(d.state);

    Host after;
    after.now = before.now + 100 * kSecond;  // a restart, later
    auto tx = after.db.begin();
    auto r = tx.restore(*d.state);
    INFO(r.error());
    REQUIRE(r.ok());
    tx.commit();
    const auto old_snap = before.db.snapshot();
    const auto new_snap = after.db.snapshot();
    // Ages count from the time each SA was added, so they moved on by the restart's 100 s.
    const auto lines = [](const std::string& text) {
        std::vector<std::string> out;
        std::size_t at = 0;
        for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
            out.push_back(text.substr(at, nl - at));
        return out;
    };
    const auto was = lines(render_spi(*old_snap, before.now + 100 * kSecond));
    const auto now = lines(render_spi(*new_snap, after.now));
    REQUIRE(was.size() == now.size());
    for (std::size_t i = 0; i < was.size(); ++i)
        CHECK(now[i] == was[i]);
    CHECK(render_eroute(*new_snap) == render_eroute(*old_snap));
    CHECK(render_spigrp(*new_snap) == render_spigrp(*old_snap));
    CHECK_FALSE(new_snap->groups()[3]->complete());

    // What differs: each outbound SA continues above its reservation.
    const SavedSadb again = save_sadb(*new_snap, 0);
    for (std::size_t i = 0; i < st.sas.size(); ++i) {
        INFO(st.sas[i].config.said.str());
        const SaConfig& c = new_snap->find(st.sas[i].config.said)->config();
        CHECK(c.initial_seq == restart_config(st.sas[i]).initial_seq);
        if (st.sas[i].config.dir == Direction::out)
            CHECK(c.initial_seq == st.sas[i].seq_reserved);
        else
            CHECK(c.initial_seq == std::max(st.sas[i].config.initial_seq, st.sas[i].counters.seq));
        SavedCounters want = st.sas[i].counters;
        if (st.sas[i].config.dir == Direction::out) want.seq = c.initial_seq;
        CHECK(again.sas[i].counters == want);
        CHECK(again.sas[i].added_ns == st.sas[i].added_ns);
    }
}

TEST_CASE("restore refuses what a SADB could not hold", "[state]") {
    Host h;
    SavedSadb st = full_state(h);
    auto restore = [](SavedSadb s) {
        Host fresh;
        auto tx = fresh.db.begin();
        return tx.restore(s).error();
    };
    SavedSadb twice = st;
    twice.sas.push_back(twice.sas.front());
    CHECK_THAT(restore(twice), Catch::Contains("appears twice"));
    SavedSadb bad_key = st;
    auto keyed = std::find_if(bad_key.sas.begin(), bad_key.sas.end(),
                              [](const SavedSa& s) { return !s.config.enc_key.empty(); });
    REQUIRE(keyed != bad_key.sas.end());
    keyed->config.enc_key.pop_back();
    CHECK_THAT(restore(bad_key),
               Catch::Contains(keyed->config.said.str()) && Catch::Contains("--enckey"));
    SavedSadb two_groups = st;
    two_groups.groups.push_back(two_groups.groups.front());
    CHECK_THAT(restore(two_groups), Catch::Contains("two groups"));
    SavedSadb orphan_policy = st;
    orphan_policy.policies.push_back(
        {said("tun.9999@192.0.2.1"), orphan_policy.policies[0].policy});
    CHECK_THAT(restore(orphan_policy), Catch::Contains("tun.9999@192.0.2.1"));
    SavedSadb same_route = st;
    same_route.eroutes.push_back(same_route.eroutes.front());
    CHECK_THAT(restore(same_route), Catch::Contains("eroute"));

    Host busy;
    busy.must("spi --said comp.400@192.0.2.2 --comp deflate");
    auto tx = busy.db.begin();
    CHECK_THAT(tx.restore(st).error(), Catch::Contains("not empty"));
}

TEST_CASE("a state file cut short anywhere is truncated", "[state]") {
    const StateBytes file = small_file();
    REQUIRE(decode_state(file).problem == StateProblem::none);
    for (std::size_t n = 0; n < file.size(); ++n) {
        const StateDecode d = decode_state(std::span<const uint8_t>(file.data(), n));
        INFO("cut at " << n << " of " << file.size() << ": " << d.message);
        CHECK(d.problem == StateProblem::truncated);
        CHECK_FALSE(d.state);
        CHECK_THAT(d.message, Catch::StartsWith("truncated: " + std::to_string(n) + " bytes"));
    }
}

TEST_CASE("a flipped bit anywhere is found and named", "[state]") {
    const StateBytes file = small_file();
    for (std::size_t i = 0; i < file.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            StateBytes damaged = file;
            damaged[i] = static_cast<uint8_t>(damaged[i] ^ (1u << bit));
            const StateDecode d = decode_state(damaged);
            INFO("byte " << i << " bit " << bit << ": " << d.message);
            REQUIRE_FALSE(d.state);
            if (i < 8) {
                CHECK(d.problem == StateProblem::bad_magic);
            } else if (i < 12) {
                CHECK(d.problem == StateProblem::unknown_version);
            } else if (i < 20) {  // the length: longer than the file, or shorter
                CHECK((d.problem == StateProblem::truncated || d.problem == StateProblem::corrupt));
            } else {
                CHECK(d.problem == StateProblem::corrupt);
                CHECK_THAT(d.message, Catch::Contains("checksum"));
            }
        }
    }
}

TEST_CASE("wrong magic, another version, bytes after the end", "[state]") {
    StateBytes file = small_file();
    StateBytes other = file;
    other[0] = 'X';
    CHECK(decode_state(other).problem == StateProblem::bad_magic);
    CHECK(decode_state(other).message == "not an ipsecfs state file (bad magic)");
    const std::string text = "# a text file\n";
    CHECK(decode_state(
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()))
              .problem == StateProblem::bad_magic);

    // A later version, checksum and all: refused for its version, not its checksum.
    StateBytes later = file;
    later[11] = 2;
    reseal(later);
    const StateDecode v = decode_state(later);
    CHECK(v.problem == StateProblem::unknown_version);
    CHECK(v.message == "unknown format version 2 (this ipsec-mountd reads version 1)");

    StateBytes longer = file;
    longer.push_back(0);
    CHECK(decode_state(longer).problem == StateProblem::corrupt);
    CHECK_THAT(decode_state(longer).message, Catch::Contains("1 bytes after the end"));
}

TEST_CASE("sealed garbage is refused value by value, never a crash", "[state]") {
    const StateBytes file = small_file();
    std::mt19937 rng(20240601);
    int decoded = 0, refused = 0;
    for (int round = 0; round < 3000; ++round) {
        StateBytes b = file;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = 20 + rng() % (b.size() - 24);
            b[at] = static_cast<uint8_t>(rng());
        }
        reseal(b);
        const StateDecode d = decode_state(b);
        if (d.state) {
            ++decoded;
            CHECK(d.problem == StateProblem::none);
        } else {
            ++refused;
            CHECK(d.problem == StateProblem::corrupt);
            CHECK_THAT(d.message, Catch::StartsWith("corrupt: ") && Catch::Contains(" at byte "));
        }
    }
    CHECK(refused > 0);
    CHECK(decoded > 0);

    // Counts far beyond the input allocate nothing and end where the bytes do.
    StateBytes huge = encode_state(SavedSadb{});
    for (std::size_t i = 29; i < 33; ++i)
        huge[i] = 0xff;  // SA count
    reseal(huge);
    const StateDecode d = decode_state(huge);
    CHECK(d.problem == StateProblem::corrupt);
    CHECK(d.message == "corrupt: unknown SA protocol 0 at byte 33");
}

TEST_CASE("the state codec knows every field of SaConfig", "[state]") {
    // A field added to SaConfig must be added to state_codec.cpp (and the round-trip test
    // above) before this size is updated.
    CHECK(sizeof(SaConfig) == 248);
}

}  // namespace ipsecfs
