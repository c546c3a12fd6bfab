#pragma once
// A SADB with a fake clock on a host that owns 192.0.2.1 and 2001:db8::1 (SAs to those are
// inbound), for renderer tests that set counters by hand.

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "core/sadb.hpp"
#include "tests/support/core_helpers.hpp"

namespace ipsecfs::testing {

inline constexpr int64_t kSecond = 1'000'000'000;

struct ClockedSadb {
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
    SaCounters& counters(const std::string& s) const {
        const Sa* p = db.snapshot()->find(said(s));
        INFO(s);
        REQUIRE(p);
        return p->counters();
    }
};

// N bytes of key as 0x… hex.
inline std::string hex_key(std::size_t bytes) {
    return "0x" + std::string(bytes * 2, 'c');
}

}  // namespace ipsecfs::testing
