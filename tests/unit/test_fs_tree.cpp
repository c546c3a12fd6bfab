#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/sadb.hpp"
#include "fs/tree.hpp"

namespace ipsecfs::fs {
namespace {

void add_sa(Sadb& db, const std::string& said) {
    const std::string src = said.find(':') != std::string::npos ? "2001:db8::1" : "192.0.2.1";
    const std::string enc = said.starts_with("ah") ? "--ah" : "--esp";
    const std::string alg = said.starts_with("ah") ? "hmac-sha1-96" : "aes128gcm16";
    const std::string key = said.starts_with("ah") ? "--authkey" : "--enckey";
    const std::vector<std::string> args = {
        "spi", "--said", said, "--src", src, enc, alg, key, "0x" + std::string(40, '1')};
    auto cmd = parse_command(args);
    INFO(said << ": " << (cmd.ok() ? "" : cmd.error()));
    REQUIRE(cmd.ok());
    auto applied = db.apply(*cmd);
    INFO(applied.error());
    REQUIRE(applied.ok());
}

uint64_t id_of(const SadbSnapshot& snap, const std::string& said) {
    return snap.find(*Said::parse(said))->id();
}

std::vector<std::string> names(const DirListing& l) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < l.size(); ++i)
        out.emplace_back(l[i].name);
    return out;
}

}  // namespace

TEST_CASE("field names: life/ fields live in life/ under their short name", "[fs]") {
    std::set<std::string> life;
    for (std::size_t i = 0; i < kSaFieldCount; ++i) {
        const auto f = static_cast<SaField>(i);
        if (in_life_dir(f)) life.emplace(leaf_name(f));
        REQUIRE(leaf_name(f).find('/') == std::string_view::npos);
    }
    REQUIRE(life == std::set<std::string>{"alloc", "bytes", "add", "use", "packets"});
    REQUIRE(leaf_name(SaField::max_seq_diff) == "max_seq_diff");
    REQUIRE(leaf_name(SaField::life_bytes) == "bytes");
}

TEST_CASE("lookup maps names to nodes directory by directory", "[fs]") {
    Sadb db(Sadb::Environment{});
    add_sa(db, "esp.1000@192.0.2.2");
    add_sa(db, "esp:2000@2001:db8::2");
    const auto snap = db.snapshot();
    const uint64_t v4 = id_of(*snap, "esp.1000@192.0.2.2");
    const uint64_t v6 = id_of(*snap, "esp:2000@2001:db8::2");

    SECTION("root") {
        REQUIRE(lookup_child(Node::root(), "ipsec_spi", *snap) == Node::of(RootFile::ipsec_spi));
        REQUIRE(lookup_child(Node::root(), "ipsec_eroute", *snap) ==
                Node::of(RootFile::ipsec_eroute));
        REQUIRE(lookup_child(Node::root(), "ipsec_spigrp", *snap) ==
                Node::of(RootFile::ipsec_spigrp));
        REQUIRE(lookup_child(Node::root(), "ipsec_tncfg", *snap) ==
                Node::of(RootFile::ipsec_tncfg));
        REQUIRE(lookup_child(Node::root(), "ipsec_version", *snap) ==
                Node::of(RootFile::ipsec_version));
        REQUIRE(lookup_child(Node::root(), "stats", *snap) == Node::of(RootFile::stats));
        REQUIRE(lookup_child(Node::root(), "metrics", *snap) == Node::of(RootFile::metrics));
        REQUIRE(lookup_child(Node::root(), "ipsec_spi.json", *snap) ==
                Node::of(RootFile::ipsec_spi_json));
        REQUIRE(lookup_child(Node::root(), "spi", *snap) == Node::spi_dir());
        REQUIRE_FALSE(lookup_child(Node::root(), "life", *snap));
        REQUIRE_FALSE(lookup_child(Node::root(), "ipsec_spi2", *snap));
        REQUIRE_FALSE(lookup_child(Node::root(), "", *snap));
    }
    SECTION("spi/ by canonical SAID only") {
        REQUIRE(lookup_child(Node::spi_dir(), "esp.1000@192.0.2.2", *snap) == Node::sa_dir(v4));
        REQUIRE(lookup_child(Node::spi_dir(), "esp:2000@2001:db8::2", *snap) == Node::sa_dir(v6));
        REQUIRE_FALSE(lookup_child(Node::spi_dir(), "esp0x1000@192.0.2.2", *snap));
        REQUIRE_FALSE(lookup_child(Node::spi_dir(), "esp.01000@192.0.2.2", *snap));
        REQUIRE_FALSE(lookup_child(Node::spi_dir(), "esp:2000@2001:0db8::2", *snap));
        REQUIRE_FALSE(lookup_child(Node::spi_dir(), "esp.1001@192.0.2.2", *snap));
        REQUIRE_FALSE(lookup_child(Node::spi_dir(), "not a said", *snap));
    }
    SECTION("an SA's directory and its life/") {
        const Node dir = Node::sa_dir(v4);
        REQUIRE(lookup_child(dir, "seq", *snap) == Node::sa_file(v4, SaField::seq));
        REQUIRE(lookup_child(dir, "said", *snap) == Node::sa_file(v4, SaField::said));
        REQUIRE(lookup_child(dir, "life", *snap) == Node::life_dir(v4));
        REQUIRE_FALSE(lookup_child(dir, "bytes", *snap));
        REQUIRE_FALSE(lookup_child(dir, "life/bytes", *snap));
        REQUIRE_FALSE(lookup_child(dir, "enckey", *snap));
        const Node life = Node::life_dir(v4);
        REQUIRE(lookup_child(life, "bytes", *snap) == Node::sa_file(v4, SaField::life_bytes));
        REQUIRE(lookup_child(life, "add", *snap) == Node::sa_file(v4, SaField::life_add));
        REQUIRE_FALSE(lookup_child(life, "seq", *snap));
    }
    SECTION("files have no children") {
        REQUIRE_FALSE(lookup_child(Node::of(RootFile::ipsec_spi), "x", *snap));
        REQUIRE_FALSE(lookup_child(Node::sa_file(v4, SaField::seq), "x", *snap));
    }
}

TEST_CASE("directory listings agree with lookup", "[fs]") {
    Sadb db(Sadb::Environment{});
    for (const char* said : {"esp.1000@192.0.2.2", "ah.200@192.0.2.9", "esp:2000@2001:db8::2"}) {
        add_sa(db, said);
    }
    const auto snap = db.snapshot();

    const auto check = [&](const Node& dir) {
        const DirListing l = list_directory(dir, *snap);
        REQUIRE(l.size() >= 2);
        REQUIRE(std::string(l[0].name) == ".");
        REQUIRE(l[0].ino == encode(dir));
        REQUIRE(std::string(l[1].name) == "..");
        REQUIRE(l[1].ino == encode(parent_of(dir)));
        for (std::size_t i = 2; i < l.size(); ++i) {
            const auto child = lookup_child(dir, l[i].name, *snap);
            REQUIRE(child);
            REQUIRE(encode(*child) == l[i].ino);
            REQUIRE(child->is_dir() == l[i].is_dir);
        }
        return names(l);
    };

    REQUIRE(check(Node::root()) == std::vector<std::string>{".", "..", "ipsec_spi", "ipsec_eroute",
                                                            "ipsec_spigrp", "ipsec_tncfg",
                                                            "ipsec_version", "stats", "metrics",
                                                            "ipsec_spi.json", "spi"});
    const auto spi = check(Node::spi_dir());
    REQUIRE(spi.size() == 5);
    std::set<std::string> listed(spi.begin() + 2, spi.end());
    REQUIRE(listed == std::set<std::string>{"esp.1000@192.0.2.2", "ah.200@192.0.2.9",
                                            "esp:2000@2001:db8::2"});

    const uint64_t id = id_of(*snap, "esp.1000@192.0.2.2");
    std::set<std::string> fields;
    for (const auto& n : check(Node::sa_dir(id))) {
        if (n != "." && n != ".." && n != "life") fields.insert(n);
    }
    for (const auto& n : check(Node::life_dir(id))) {
        if (n != "." && n != "..") fields.insert("life/" + n);
    }
    REQUIRE(fields == std::set<std::string>(kSaFieldNames.begin(), kSaFieldNames.end()));
}

TEST_CASE("parents: the tree's upward links", "[fs]") {
    REQUIRE(parent_of(Node::root()) == Node::root());
    REQUIRE(parent_of(Node::spi_dir()) == Node::root());
    REQUIRE(parent_of(Node::of(RootFile::stats)) == Node::root());
    REQUIRE(parent_of(Node::sa_dir(4)) == Node::spi_dir());
    REQUIRE(parent_of(Node::life_dir(4)) == Node::sa_dir(4));
    REQUIRE(parent_of(Node::sa_file(4, SaField::seq)) == Node::sa_dir(4));
    REQUIRE(parent_of(Node::sa_file(4, SaField::life_use)) == Node::life_dir(4));
}

}  // namespace ipsecfs::fs
