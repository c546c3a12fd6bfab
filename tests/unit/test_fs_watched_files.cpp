#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/sadb.hpp"
#include "fs/change_watch.hpp"
#include "fs/open_file.hpp"
#include "fs/watched_files.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs::fs {
namespace {

using testing::command;

const std::string kKey = " --enckey 0x" + std::string(40, '1');

// Applies `line` to `db` and returns which watched files that commit changed.
FileSet change(Sadb& db, const std::string& line) {
    const auto before = db.snapshot();
    REQUIRE(db.apply(command(line)).ok());
    return changed_files(*before, *db.snapshot());
}

FileSet files(std::initializer_list<RootFile> list) {
    FileSet s;
    for (RootFile f : list)
        s.set(static_cast<std::size_t>(f));
    return s;
}

// A poll handle stand-in that counts how many are alive.
struct Token {
    explicit Token(int& alive) : alive_(&alive) { ++*alive_; }
    ~Token() { --*alive_; }
    int* alive_;
};
using TokenPtr = std::unique_ptr<Token>;

}  // namespace

TEST_CASE("watched files: ipsec_spi, ipsec_eroute and ipsec_spigrp only", "[fs]") {
    REQUIRE(is_watched(RootFile::ipsec_spi));
    REQUIRE(is_watched(RootFile::ipsec_eroute));
    REQUIRE(is_watched(RootFile::ipsec_spigrp));
    REQUIRE_FALSE(is_watched(RootFile::ipsec_tncfg));
    REQUIRE_FALSE(is_watched(RootFile::ipsec_version));
    REQUIRE_FALSE(is_watched(RootFile::stats));
}

TEST_CASE("a commit changes the files whose list it changed", "[fs]") {
    Sadb db(Sadb::Environment{});
    const std::string esp = "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16";
    REQUIRE(change(db, esp + kKey) == files({RootFile::ipsec_spi}));
    REQUIRE(change(db, "spi --said tun.1001@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2") ==
            files({RootFile::ipsec_spi}));
    REQUIRE(change(db, "spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2") ==
            files({RootFile::ipsec_spigrp}));
    REQUIRE(change(db,
                   "eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
                   "tun.1001@192.0.2.2") == files({RootFile::ipsec_eroute}));
    // Same SAID, new instance: a new line.
    REQUIRE(change(db, esp + kKey + " --replace") == files({RootFile::ipsec_spi}));
    REQUIRE(change(db,
                   "eroute --replace --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
                   "esp.1000@192.0.2.2") == files({RootFile::ipsec_eroute}));
    REQUIRE(change(db, "eroute --del --src 198.51.100.0/24 --dst 203.0.113.0/24") ==
            files({RootFile::ipsec_eroute}));
    REQUIRE(change(db, "spigrp --said tun.1001@192.0.2.2") == files({RootFile::ipsec_spigrp}));
    REQUIRE(change(db, "spi --said tun.1001@192.0.2.2 --del") == files({RootFile::ipsec_spi}));

    SECTION("counters and an empty transaction change nothing") {
        const auto before = db.snapshot();
        before->find(testing::said("esp.1000@192.0.2.2"))->counters().bytes.add(100);
        db.begin().commit();
        REQUIRE(db.snapshot()->generation() > before->generation());
        REQUIRE(changed_files(*before, *db.snapshot()).none());
    }
    SECTION("a batch reports all it changed") {
        const auto before = db.snapshot();
        auto tx = db.begin();
        REQUIRE(tx.apply(command(esp + kKey + " --replace")).ok());
        REQUIRE(tx.apply(command("eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
                                 "esp.1000@192.0.2.2"))
                    .ok());
        tx.commit();
        REQUIRE(changed_files(*before, *db.snapshot()) ==
                files({RootFile::ipsec_spi, RootFile::ipsec_eroute}));
    }
}

TEST_CASE("change watch: changed since the generation an open rendered", "[fs]") {
    int alive = 0;
    ChangeWatch<TokenPtr> watch;
    REQUIRE_FALSE(watch.changed_since(RootFile::ipsec_spi, 0, 1, nullptr));
    REQUIRE(watch.waiting() == 0);

    // Waits, then a commit of another file does not wake it; one of its file does, once.
    REQUIRE_FALSE(watch.changed_since(RootFile::ipsec_spi, 0, 1, std::make_unique<Token>(alive)));
    REQUIRE(watch.waiting() == 1);
    REQUIRE(watch.commit(files({RootFile::ipsec_eroute}), 3).empty());
    REQUIRE(watch.commit(FileSet{}, 4).empty());
    {
        auto woken = watch.commit(files({RootFile::ipsec_spi}), 5);
        REQUIRE(woken.size() == 1);
        REQUIRE(watch.waiting() == 0);
    }
    REQUIRE(alive == 0);
    REQUIRE(watch.commit(files({RootFile::ipsec_spi}), 6).empty());

    // An open that rendered generation 5 has changed (6); one that rendered 6 has not.
    REQUIRE(watch.changed_since(RootFile::ipsec_spi, 5, 2, std::make_unique<Token>(alive)));
    REQUIRE(alive == 0);  // the token was not kept
    REQUIRE_FALSE(watch.changed_since(RootFile::ipsec_spi, 6, 2, std::make_unique<Token>(alive)));
    REQUIRE(watch.changed_since(RootFile::ipsec_eroute, 2, 3, nullptr));
    REQUIRE_FALSE(watch.changed_since(RootFile::ipsec_eroute, 3, 3, nullptr));

    // A commit reported late (on_commit runs outside the SADB lock) never moves a stamp back.
    REQUIRE(watch.commit(files({RootFile::ipsec_eroute}), 2).empty());
    REQUIRE(watch.changed_since(RootFile::ipsec_eroute, 2, 3, nullptr));
    REQUIRE_FALSE(watch.changed_since(RootFile::ipsec_eroute, 3, 3, nullptr));

    // One token per open: a second poll replaces the first; release drops it.
    REQUIRE(alive == 1);
    REQUIRE_FALSE(watch.changed_since(RootFile::ipsec_spi, 6, 2, std::make_unique<Token>(alive)));
    REQUIRE(alive == 1);
    REQUIRE_FALSE(
        watch.changed_since(RootFile::ipsec_spigrp, 0, 4, std::make_unique<Token>(alive)));
    REQUIRE(watch.waiting() == 2);
    watch.forget(2);
    watch.forget(2);
    REQUIRE(alive == 1);
    REQUIRE(watch.waiting() == 1);
    REQUIRE(watch.commit(files({RootFile::ipsec_spi, RootFile::ipsec_spigrp}), 7).size() == 1);
    REQUIRE(alive == 0);
}

TEST_CASE("an open file serves one text until a new pass renews it", "[fs]") {
    OpenFile f(Node::of(RootFile::ipsec_spi), "first\n", 4);
    REQUIRE(f.node() == Node::of(RootFile::ipsec_spi));
    REQUIRE(f.generation() == 4);
    REQUIRE_FALSE(f.read_before());
    const auto first = f.text();
    REQUIRE(f.read_before());
    REQUIRE(first->slice(0, 100) == "first\n");

    f.renew("second\n", 5);
    REQUIRE(f.generation() == 5);
    REQUIRE(f.text()->slice(0, 100) == "second\n");
    REQUIRE(first->slice(0, 100) == "first\n");  // a read in flight keeps its text

    f.renew("older\n", 4);  // a slower render of an older snapshot loses
    REQUIRE(f.text()->slice(0, 100) == "second\n");
    f.renew("fresher counters\n", 5);
    REQUIRE(f.text()->slice(0, 100) == "fresher counters\n");
    REQUIRE(f.generation() == 5);
}

}  // namespace ipsecfs::fs
