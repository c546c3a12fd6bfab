#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "fs/handle_table.hpp"

namespace ipsecfs::fs {
namespace {

struct Tracked {
    explicit Tracked(int& alive) : alive_(alive) { ++alive_; }
    ~Tracked() { --alive_; }
    int& alive_;
};

}  // namespace

TEST_CASE("a handle table gives objects back by handle and frees them on remove", "[fs]") {
    int alive = 0;
    HandleTable<Tracked> table;
    const uint64_t a = table.add(std::make_unique<Tracked>(alive));
    const uint64_t b = table.add(std::make_unique<Tracked>(alive));
    REQUIRE(a != b);
    REQUIRE(alive == 2);
    REQUIRE(&HandleTable<Tracked>::get(a).alive_ == &alive);
    table.remove(a);
    REQUIRE(alive == 1);
    REQUIRE(table.size() == 1);
    table.remove(a);  // twice is harmless
    REQUIRE(table.size() == 1);
}

TEST_CASE("handles the kernel never released die with the table", "[fs]") {
    int alive = 0;
    {
        HandleTable<Tracked> table;
        (void)table.add(std::make_unique<Tracked>(alive));
        (void)table.add(std::make_unique<Tracked>(alive));
    }
    REQUIRE(alive == 0);
}

}  // namespace ipsecfs::fs
