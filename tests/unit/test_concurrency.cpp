// The shared structures under the daemon's real thread mix, for ThreadSanitizer (scripts/test
// runs every [threads] test in a -fsanitize=thread build): SADB transactions from one writer (the
// control thread) against snapshot readers that check what they see (the filesystem threads)
// and counter updaters (the packet workers); the filesystem's handle tables under concurrent
// opens and releases.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/command.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "fs/handle_table.hpp"
#include "netpath/engine.hpp"
#include "tests/support/core_helpers.hpp"

using namespace ipsecfs;

namespace {

constexpr int kTransactions = 300;
constexpr int kLive = 12;  // the writer keeps this many SA + eroute pairs

// Pair k: outbound esp.(1000+k)@192.0.2.2 and the eroute 198.51.100.(k/200) → 203.0.113.(k%200).
std::string spi_of(int k) {
    char text[16];
    std::snprintf(text, sizeof text, "%x", 0x1000 + k);
    return text;
}
std::string src_of(int k) {
    return "198.51.100." + std::to_string(k / 200);
}
std::string dst_of(int k) {
    return "203.0.113." + std::to_string(k % 200);
}
std::vector<std::string> add_pair(int k) {
    return {"spi --said esp." + spi_of(k) +
                "@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey 0x" + std::string(40, 'c'),
            "eroute --add --src " + src_of(k) + "/32 --dst " + dst_of(k) + "/32 --said esp." +
                spi_of(k) + "@192.0.2.2"};
}
std::vector<std::string> delete_pair(int k) {
    return {"eroute --del --src " + src_of(k) + "/32 --dst " + dst_of(k) + "/32",
            "spi --said esp." + spi_of(k) + "@192.0.2.2 --del"};
}

// What a reader may see: pairs k in [first, first + n) for some first, each whole, n <= kLive.
// Returns an empty string or what is wrong.
std::string check_snapshot(const SadbSnapshot& snap) {
    if (snap.size() != snap.eroutes().size()) return "SAs and eroutes differ in number";
    if (snap.size() > kLive) return "more pairs than the writer keeps";
    int first = -1, index = 0;
    for (const auto& [said, sa] : snap.sas()) {
        const int k = static_cast<int>(said.spi) - 0x1000;
        if (first < 0) first = k;
        if (k != first + index++) return "pairs are not contiguous";
        const Eroute* route =
            snap.route(*IpAddress::parse(src_of(k)), *IpAddress::parse(dst_of(k)));
        if (!route || route->said != said) return "SA " + said.str() + " without its eroute";
        if (snap.find(said) != sa.get()) return "lookup by SAID disagrees with the SA list";
    }
    return {};
}

}  // namespace

TEST_CASE("SADB transactions against snapshot readers and counter updaters", "[threads]") {
    Sadb::Environment env;
    env.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.1"; };
    env.now_ns = [] { return int64_t{1'000'000'000'000}; };
    env.make_runtime = netpath::Engine::make_runtime;
    std::atomic<int> commits_seen{0};
    env.on_commit = [&](const SadbSnapshot& before, const SadbSnapshot& after) {
        if (after.generation() > before.generation()) commits_seen.fetch_add(1);
    };
    Sadb db(std::move(env));
    std::atomic<bool> done{false};
    std::atomic<int> wrong{0};
    std::atomic<uint64_t> counted{0};

    // Catch2's macros are for the test's own thread: every command is parsed here.
    std::vector<std::vector<Command>> adds, deletes;
    for (int k = 0; k < kTransactions; ++k) {
        adds.emplace_back();
        deletes.emplace_back();
        for (const auto& line : add_pair(k))
            adds.back().push_back(testing::command(line));
        for (const auto& line : delete_pair(k))
            deletes.back().push_back(testing::command(line));
    }
    const Command clear = testing::command("spi --clear");

    std::thread writer([&] {
        for (int k = 0; k < kTransactions; ++k) {
            {
                auto tx = db.begin();
                if (k >= kLive) {
                    for (const auto& c : deletes[k - kLive])
                        if (!tx.apply(c)) wrong.fetch_add(1);
                }
                for (const auto& c : adds[k])
                    if (!tx.apply(c)) wrong.fetch_add(1);
                // Refused commands leave the pending state as it was.
                if (tx.apply(adds[k][0])) wrong.fetch_add(1);
                tx.commit();
            }
            if (k % 16 == 0) {  // never committed: no reader may see it
                auto abandoned = db.begin();
                (void)abandoned.apply(clear);
            }
        }
        done = true;
    });
    const auto reader = [&] {
        uint64_t generation = 0;
        while (!done) {
            const auto snap = db.snapshot();
            if (snap->generation() < generation) wrong.fetch_add(1);
            generation = snap->generation();
            if (!check_snapshot(*snap).empty()) wrong.fetch_add(1);
            (void)render_spi(*snap, 1'000'000'000'000);
            (void)render_eroute(*snap);
        }
    };
    // Like a packet worker: keeps a snapshot until the generation moves, counts on its SAs.
    const auto updater = [&] {
        SadbSnapshotPtr snap;
        while (!done) {
            if (!snap || snap->generation() != db.generation()) snap = db.snapshot();
            for (const auto& route : snap->eroutes()) {
                route.packets->add();
                const Sa* sa = snap->find(route.said);
                if (!sa) continue;
                sa->counters().packets.add(1);
                sa->counters().bytes.add(100);
                sa->counters().mark_used(2'000'000'000'000);
                counted.fetch_add(1);
            }
        }
    };
    std::thread r1(reader), r2(reader), u1(updater);
    writer.join();
    r1.join();
    r2.join();
    u1.join();

    CHECK(wrong.load() == 0);
    CHECK(commits_seen.load() == kTransactions);
    const auto last = db.snapshot();
    CHECK(check_snapshot(*last).empty());
    CHECK(last->size() == kLive);
    CHECK(last->sas().begin()->first.spi == 0x1000 + kTransactions - kLive);
    INFO("counter updates: " << counted.load());
}

TEST_CASE("a handle table under concurrent opens and releases", "[threads][fs]") {
    fs::HandleTable<std::string> table;
    constexpr int kThreads = 4, kRounds = 2000;
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::vector<uint64_t> mine;
            for (int i = 0; i < kRounds; ++i) {
                const std::string text = std::to_string(t) + ":" + std::to_string(i);
                mine.push_back(table.add(std::make_unique<std::string>(text)));
                if (fs::HandleTable<std::string>::get(mine.back()) != text) wrong.fetch_add(1);
                if (i % 3 == 2) {
                    table.remove(mine.front());
                    mine.erase(mine.begin());
                }
                (void)table.size();
            }
            for (const uint64_t fh : mine)
                table.remove(fh);
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(wrong.load() == 0);
    CHECK(table.size() == 0);
}
