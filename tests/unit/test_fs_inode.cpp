#include <catch2/catch.hpp>

#include <set>

#include "fs/inode.hpp"

namespace ipsecfs::fs {
namespace {

std::vector<Node> nodes_of_sa(uint64_t id) {
    std::vector<Node> out = {Node::sa_dir(id), Node::life_dir(id)};
    for (std::size_t f = 0; f < kSaFieldCount; ++f)
        out.push_back(Node::sa_file(id, static_cast<SaField>(f)));
    return out;
}

}  // namespace

TEST_CASE("fixed inodes: the root is FUSE's root, root files and spi/ are small constants",
          "[fs]") {
    STATIC_REQUIRE(encode(Node::root()) == 1);
    STATIC_REQUIRE(encode(Node::of(RootFile::ipsec_spi)) == 2);
    STATIC_REQUIRE(encode(Node::of(RootFile::stats)) == 7);
    STATIC_REQUIRE(encode(Node::of(RootFile::ipsec_spi_json)) == 9);
    STATIC_REQUIRE(encode(Node::spi_dir()) == 10);
    for (std::size_t i = 0; i < kRootFileCount; ++i) {
        const Node n = Node::of(static_cast<RootFile>(i));
        REQUIRE(decode(encode(n)) == n);
    }
    REQUIRE(decode(1) == Node::root());
    REQUIRE(decode(10) == Node::spi_dir());
}

TEST_CASE("SA inodes derive from the SA id and round-trip", "[fs]") {
    STATIC_REQUIRE(encode(Node::sa_dir(1)) == 64);
    STATIC_REQUIRE(encode(Node::life_dir(1)) == 65);
    STATIC_REQUIRE(encode(Node::sa_file(1, SaField::said)) == 66);
    STATIC_REQUIRE(encode(Node::sa_file(3, SaField::life_packets)) ==
                   ((Ino{3} << 6) | (2 + static_cast<Ino>(SaField::life_packets))));

    std::set<Ino> seen;
    for (uint64_t id : {uint64_t{1}, uint64_t{2}, uint64_t{77}, uint64_t{100'000}, kMaxSaId}) {
        for (const Node& n : nodes_of_sa(id)) {
            const Ino ino = encode(n);
            REQUIRE(ino != 0);
            REQUIRE(seen.insert(ino).second);
            REQUIRE(decode(ino) == n);
        }
    }
}

TEST_CASE("inode numbers that name nothing decode to nothing", "[fs]") {
    REQUIRE_FALSE(decode(0));
    for (Ino ino = 11; ino < 64; ++ino)
        REQUIRE_FALSE(decode(ino));
    for (Ino slot = kFirstFieldSlot + kSaFieldCount; slot < 64; ++slot) {
        REQUIRE_FALSE(decode((Ino{5} << kSlotBits) | slot));
    }
}

TEST_CASE("an SA id too large for the scheme encodes to the invalid inode 0", "[fs]") {
    REQUIRE(encode(Node::sa_dir(kMaxSaId + 1)) == 0);
    REQUIRE(encode(Node::sa_file(kMaxSaId + 1, SaField::seq)) == 0);
}

}  // namespace ipsecfs::fs
