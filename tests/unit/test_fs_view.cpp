#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/sadb.hpp"
#include "fs/view.hpp"

namespace ipsecfs::fs {
namespace {

std::vector<std::string> add_args(const std::string& said) {
    return {"spi",         "--said",    said,
            "--src",       "192.0.2.1", "--esp",
            "aes128gcm16", "--enckey",  "0x" + std::string(40, '1')};
}

void run(Sadb& db, const std::vector<std::string>& args) {
    auto cmd = parse_command(args);
    REQUIRE(cmd.ok());
    REQUIRE(db.apply(*cmd).ok());
}

const Sa* sa_named(const SadbSnapshot& snap, const std::string& said) {
    return snap.find(*Said::parse(said));
}

}  // namespace

TEST_CASE("a view finds SAs by id", "[fs]") {
    Sadb db(Sadb::Environment{});
    run(db, add_args("esp.1000@192.0.2.2"));
    run(db, add_args("esp.1001@192.0.2.2"));
    const View view(db.snapshot());
    const Sa* a = sa_named(view.snapshot(), "esp.1000@192.0.2.2");
    const Sa* b = sa_named(view.snapshot(), "esp.1001@192.0.2.2");
    REQUIRE(a->id() != b->id());
    REQUIRE(view.find(a->id()) == a);
    REQUIRE(view.find(b->id()) == b);
    REQUIRE(view.find(0) == nullptr);
    REQUIRE(view.find(b->id() + 1000) == nullptr);
}

TEST_CASE("the view cache follows commits; deleted and replaced SAs lose their id", "[fs]") {
    Sadb db(Sadb::Environment{});
    run(db, add_args("esp.1000@192.0.2.2"));
    run(db, add_args("esp.1001@192.0.2.2"));
    ViewCache cache(db);

    const ViewPtr first = cache.current();
    REQUIRE(cache.current() == first);
    const uint64_t kept = sa_named(first->snapshot(), "esp.1000@192.0.2.2")->id();
    const uint64_t deleted = sa_named(first->snapshot(), "esp.1001@192.0.2.2")->id();

    run(db, {"spi", "--said", "esp.1001@192.0.2.2", "--del"});
    const ViewPtr second = cache.current();
    REQUIRE(second != first);
    REQUIRE(second->generation() == db.generation());
    REQUIRE(second->find(kept) != nullptr);
    REQUIRE(second->find(deleted) == nullptr);
    REQUIRE(first->find(deleted) != nullptr);  // an older view stays whole for its readers

    auto replace = add_args("esp.1000@192.0.2.2");
    replace.push_back("--replace");
    run(db, replace);
    const ViewPtr third = cache.current();
    REQUIRE(third->find(kept) == nullptr);
    REQUIRE(sa_named(third->snapshot(), "esp.1000@192.0.2.2")->id() != kept);
}

}  // namespace ipsecfs::fs
