#include <catch2/catch.hpp>

#include <linux/fuse.h>

#include <cstring>
#include <string>
#include <vector>

#include "fs/dir_listing.hpp"

namespace ipsecfs::fs {
namespace {

struct Dirent {
    std::string name;
    uint64_t ino;
    uint64_t off;
    uint32_t type;
};

std::vector<Dirent> parse(const char* buf, std::size_t len) {
    std::vector<Dirent> out;
    std::size_t at = 0;
    while (at < len) {
        fuse_dirent d;
        std::memcpy(&d, buf + at, sizeof(d));
        out.push_back({std::string(buf + at + FUSE_NAME_OFFSET, d.namelen), d.ino, d.off, d.type});
        at += FUSE_DIRENT_SIZE(&d);
    }
    return out;
}

// Reads the whole listing the way the kernel does: pages of `page` bytes, each resuming at the
// offset of the last entry of the previous one.
std::vector<Dirent> read_all(const DirListing& l, std::size_t page) {
    std::vector<Dirent> out;
    std::vector<char> buf(page);
    std::size_t off = 0;
    for (;;) {
        const std::size_t used = l.fill(buf.data(), buf.size(), off);
        if (used == 0) break;
        const auto got = parse(buf.data(), used);
        out.insert(out.end(), got.begin(), got.end());
        off = got.back().off;
    }
    return out;
}

}  // namespace

TEST_CASE("a directory listing hands out entries with resumable offsets", "[fs]") {
    DirListing l;
    l.add(".", 8, true);
    l.add("..", 1, true);
    for (int i = 0; i < 1000; ++i)
        l.add("esp." + std::to_string(1000 + i) + "@192.0.2.2", 64u * (i + 1), true);
    l.add("a-file", 2, false);
    REQUIRE(l.size() == 1003);
    REQUIRE(std::string(l[1].name) == "..");
    REQUIRE(l[2].ino == 64);

    for (std::size_t page : {64u, 100u, 4096u, 1u << 20}) {
        const auto all = read_all(l, page);
        REQUIRE(all.size() == l.size());
        for (std::size_t i = 0; i < all.size(); ++i) {
            REQUIRE(all[i].name == l[i].name);
            REQUIRE(all[i].ino == l[i].ino);
            REQUIRE(all[i].off == i + 1);
            REQUIRE(all[i].type == (l[i].is_dir ? 4u /* DT_DIR */ : 8u /* DT_REG */));
        }
    }
}

TEST_CASE("a listing resumes at any offset and ends with an empty page", "[fs]") {
    DirListing l;
    for (int i = 0; i < 10; ++i)
        l.add("n" + std::to_string(i), 100 + i, false);
    std::vector<char> buf(4096);
    const auto tail = parse(buf.data(), l.fill(buf.data(), buf.size(), 7));
    REQUIRE(tail.size() == 3);
    REQUIRE(tail.front().name == "n7");
    REQUIRE(l.fill(buf.data(), buf.size(), 10) == 0);
    REQUIRE(l.fill(buf.data(), buf.size(), 1000) == 0);
}

TEST_CASE("a page too small for the next entry returns nothing rather than a cut entry", "[fs]") {
    DirListing l;
    l.add("a-rather-long-name-for-a-tiny-buffer", 5, false);
    std::vector<char> buf(16);
    REQUIRE(l.fill(buf.data(), buf.size(), 0) == 0);
}

}  // namespace ipsecfs::fs
