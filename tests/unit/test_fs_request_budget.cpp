#include <catch2/catch.hpp>

#include <cstdint>

#include "fs/request_budget.hpp"

namespace ipsecfs::fs {
namespace {

constexpr int64_t kMs = 1'000'000;

// Spends requests at one instant until the budget asks to wait; returns how many went through.
int spend_all(RequestBudget& b, int64_t now, uint64_t packets) {
    int n = 0;
    while (n < 100'000 && b.wait_ns(now, packets) == 0)
        ++n;
    return n;
}

}  // namespace

TEST_CASE("a request budget of 0 never makes a reader wait", "[fs]") {
    RequestBudget b(0);
    for (uint64_t p = 0; p < 1000; ++p)
        REQUIRE(b.wait_ns(0, p) == 0);
}

TEST_CASE("while the packet total stands still, requests are not counted", "[fs]") {
    RequestBudget b(10);
    REQUIRE(spend_all(b, 0, 5) == 100'000);
    // Traffic starts: the whole burst (one second's worth) is still there.
    REQUIRE(spend_all(b, 1 * kMs, 6) == 10);
}

TEST_CASE("while packets flow, a request budget allows one second's burst, then its rate", "[fs]") {
    RequestBudget b(100);
    REQUIRE(b.wait_ns(0, 1) == 0);  // quiet so far: spends nothing
    int64_t now = 1 * kMs;
    uint64_t packets = 2;
    REQUIRE(spend_all(b, now, packets) == 100);
    const int64_t wait = b.wait_ns(now, packets);
    REQUIRE(wait > 9 * kMs);  // 1/100 s, less what the last millisecond earned
    REQUIRE(wait <= 10 * kMs + 1);
    now += wait;
    REQUIRE(b.wait_ns(now, ++packets) == 0);
    REQUIRE(b.wait_ns(now, ++packets) > 0);
    // Half a second earns 50 requests, and never more than the burst.
    now += 500 * kMs;
    REQUIRE(spend_all(b, now, ++packets) == 50);
    now += 60'000 * kMs;
    REQUIRE(spend_all(b, now, ++packets) == 100);
}

TEST_CASE("a request budget stops applying once the packets stand still for kQuietNs", "[fs]") {
    RequestBudget b(10);
    REQUIRE(b.wait_ns(0, 1) == 0);
    REQUIRE(spend_all(b, 1 * kMs, 2) == 10);
    const int64_t moved = 1 * kMs;
    REQUIRE(b.wait_ns(moved + RequestBudget::kQuietNs - 1, 2) > 0);
    REQUIRE(b.wait_ns(moved + RequestBudget::kQuietNs, 2) == 0);
    REQUIRE(b.wait_ns(moved + RequestBudget::kQuietNs + 1, 2) == 0);
}

}  // namespace ipsecfs::fs
