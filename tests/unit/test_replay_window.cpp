#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/outbound_sequence.hpp"
#include "core/replay_window.hpp"

namespace ipsecfs {

static std::ostream& operator<<(std::ostream& os, const ReplayWindow::Check& c) {
    constexpr const char* names[] = {"ok", "replay", "too_old"};
    return os << names[static_cast<int>(c.verdict)] << " " << c.seq;
}

namespace {

using Verdict = ReplayWindow::Verdict;
constexpr uint64_t k2p32 = uint64_t{1} << 32;

const char* name(Verdict v) {
    switch (v) {
        case Verdict::ok:
            return "ok";
        case Verdict::replay:
            return "replay";
        case Verdict::too_old:
            return "too_old";
    }
    return "?";
}

// Independent reference: a set of received numbers. ESN inference is written as "the one
// number with these low 32 bits among the 2^32 numbers starting at the window's left edge",
// which is what RFC 4303 Appendix A2.2's cases A and B amount to.
struct Model {
    uint32_t w;
    bool esn;
    uint64_t highest;
    uint64_t max_diff = 0;
    std::set<uint64_t> got;

    Model(uint32_t size, bool e, uint64_t h) : w(size), esn(e), highest(h) {
        if (h != 0) got.insert(h);
    }

    uint64_t infer(uint32_t lo) const {
        if (!esn) return lo;
        const uint64_t span = w - 1;
        if (highest >= span) {
            const uint64_t left = highest - span;
            const uint64_t x = left + static_cast<uint32_t>(lo - static_cast<uint32_t>(left));
            return x < left ? 0 : x;
        }
        const uint64_t k = span - highest;  // left edge is -k
        const uint32_t d = lo + static_cast<uint32_t>(k);
        return d >= k ? d - k : 0;
    }

    Verdict classify(uint64_t seq) const {
        if (seq == 0 || (!esn && seq >= k2p32)) return Verdict::too_old;
        if (seq > highest) return Verdict::ok;
        if (highest - seq >= w) return Verdict::too_old;
        return got.count(seq) != 0 ? Verdict::replay : Verdict::ok;
    }

    Verdict commit(uint64_t seq) {
        const Verdict v = classify(seq);
        if (v != Verdict::ok) return v;
        got.insert(seq);
        if (seq > highest) {
            max_diff = std::max(max_diff, seq - highest - 1);
            highest = seq;
            if (highest > 8192) got.erase(got.begin(), got.lower_bound(highest - 8192));
        }
        return v;
    }

    uint64_t bitmap() const {
        const uint64_t n = std::min<uint64_t>(w, 64);
        uint64_t out = 0;
        for (auto it = got.rbegin(); it != got.rend() && highest - *it < n; ++it) {
            out |= uint64_t{1} << (highest - *it);
        }
        return out;
    }
};

struct Step {
    uint32_t lo;
    Verdict expect;
};

struct TableCase {
    const char* what;
    uint32_t size;
    bool esn;
    uint64_t initial;
    std::vector<Step> steps;  // ok steps are committed
    uint64_t highest;
    uint64_t bitmap;
    uint64_t max_diff;
};

void run(const TableCase& tc) {
    INFO(tc.what);
    ReplayWindow w(tc.size, tc.esn, tc.initial);
    for (std::size_t i = 0; i < tc.steps.size(); ++i) {
        const Step& s = tc.steps[i];
        INFO("step " << i << " seq_lo " << s.lo);
        const auto c = w.check(s.lo);
        CHECK(name(c.verdict) == std::string(name(s.expect)));
        if (c.verdict == Verdict::ok) CHECK(w.commit(c.seq) == Verdict::ok);
    }
    CHECK(w.highest() == tc.highest);
    CHECK(w.bitmap64() == tc.bitmap);
    CHECK(w.max_seq_diff() == tc.max_diff);
}

constexpr Verdict ok = Verdict::ok;
constexpr Verdict replay = Verdict::replay;
constexpr Verdict too_old = Verdict::too_old;

}  // namespace

TEST_CASE("replay window: table of non-ESN cases", "[replay]") {
    const std::vector<TableCase> cases = {
        {"in order", 32, false, 0, {{1, ok}, {2, ok}, {3, ok}}, 3, 0x7, 0},
        {"duplicates",
         32,
         false,
         0,
         {{1, ok}, {2, ok}, {2, replay}, {1, replay}, {3, ok}, {3, replay}},
         3,
         0x7,
         0},
        {"reorder inside window",
         32,
         false,
         0,
         {{5, ok}, {3, ok}, {4, ok}, {1, ok}, {3, replay}, {2, ok}},
         5,
         0x1f,
         4},
        {"zero is never valid", 32, false, 0, {{0, too_old}, {1, ok}, {0, too_old}}, 1, 0x1, 0},
        {"left edge and one past it",
         32,
         false,
         0,
         {{40, ok}, {9, ok}, {8, too_old}, {9, replay}, {10, ok}},
         40,
         0xc0000001,
         39},
        {"jump larger than the window",
         32,
         false,
         0,
         {{1, ok}, {2, ok}, {3, ok}, {100, ok}, {3, too_old}, {69, ok}, {68, too_old}},
         100,
         0x80000001,
         96},
        {"jump larger than 4096",
         4096,
         false,
         0,
         {{1, ok}, {2, ok}, {10000, ok}, {2, too_old}, {5905, ok}, {5904, too_old}, {9999, ok}},
         10000,
         0x3,
         9997},
        {"window 1",
         1,
         false,
         0,
         {{1, ok}, {1, replay}, {3, ok}, {2, too_old}, {3, replay}, {4, ok}, {0, too_old}},
         4,
         0x1,
         1},
        {"window 64 edges",
         64,
         false,
         0,
         {{100, ok}, {37, ok}, {36, too_old}, {99, ok}},
         100,
         0x8000000000000003,
         99},
        {"window 65 edges, bitmap shows only 64",
         65,
         false,
         0,
         {{100, ok}, {36, ok}, {35, too_old}, {37, ok}, {36, replay}},
         100,
         0x8000000000000001,
         99},
        {"window 1024 edges",
         1024,
         false,
         0,
         {{5000, ok}, {3977, ok}, {3976, too_old}, {4999, ok}, {3977, replay}},
         5000,
         0x3,
         4999},
        {"window 4096 edges across block boundaries",
         4096,
         false,
         0,
         {{64, ok},
          {128, ok},
          {4159, ok},
          {64, replay},
          {63, too_old},
          {128, replay},
          {4160, ok},
          {64, too_old},
          {65, ok}},
         4160,
         0x3,
         4030},
        {"size 0 clamps to 1", 0, false, 0, {{5, ok}, {4, too_old}, {6, ok}}, 6, 0x1, 4},
        {"size above 4096 clamps to 4096",
         100000,
         false,
         0,
         {{5000, ok}, {904, too_old}, {905, ok}},
         5000,
         0x1,
         4999},
        {"initial highest marks only itself",
         32,
         false,
         1000,
         {{1000, replay}, {999, ok}, {969, ok}, {968, too_old}},
         1000,
         0x80000003,
         0},
    };
    for (const auto& tc : cases)
        run(tc);
}

TEST_CASE("replay window: golden ipsec_spi bit= values", "[replay]") {
    struct Golden {
        uint32_t size;
        uint64_t packets;
        uint64_t bitmap;
    };
    for (const Golden g : {Golden{32, 7149, 0xffffffff}, Golden{64, 7149, ~uint64_t{0}},
                           Golden{65, 300, ~uint64_t{0}}, Golden{4096, 9000, ~uint64_t{0}},
                           Golden{1, 10, 0x1}, Golden{5, 3, 0x7}, Golden{32, 20, 0xfffff}}) {
        INFO("size " << g.size << " packets " << g.packets);
        ReplayWindow w(g.size, false);
        CHECK(w.highest() == 0);
        CHECK(w.bitmap64() == 0);
        for (uint64_t s = 1; s <= g.packets; ++s) {
            const auto c = w.check(static_cast<uint32_t>(s));
            REQUIRE(c == ReplayWindow::Check{Verdict::ok, s});
            REQUIRE(w.commit(c.seq) == Verdict::ok);
        }
        CHECK(w.highest() == g.packets);
        CHECK(w.bitmap64() == g.bitmap);
        CHECK(w.max_seq_diff() == 0);
        CHECK(w.size() == g.size);
        CHECK_FALSE(w.esn());
    }
}

TEST_CASE("replay window: without ESN nothing wraps past 2^32 - 1", "[replay]") {
    ReplayWindow w(32, false, k2p32 - 3);
    for (uint32_t lo : {0xfffffffeU, 0xffffffffU}) {
        const auto c = w.check(lo);
        REQUIRE(c == ReplayWindow::Check{Verdict::ok, lo});
        REQUIRE(w.commit(c.seq) == Verdict::ok);
    }
    CHECK(w.highest() == 0xffffffff);
    for (uint32_t lo : {0U, 1U, 5U, 31U})
        CHECK(w.check(lo).verdict == Verdict::too_old);
    CHECK(w.check(0xffffffff).verdict == Verdict::replay);
    CHECK(w.check(0xffffffe0).verdict == Verdict::ok);
    CHECK(w.check(0xffffffdf).verdict == Verdict::too_old);
    CHECK(w.commit(k2p32) == Verdict::too_old);
    CHECK(w.commit(k2p32 + 1) == Verdict::too_old);
    CHECK(w.commit(~uint64_t{0}) == Verdict::too_old);
    CHECK(w.commit(0) == Verdict::too_old);
    CHECK(w.highest() == 0xffffffff);
    CHECK(w.bitmap64() == 0x7);

    ReplayWindow clamped(32, false, uint64_t{1} << 40);
    CHECK(clamped.highest() == 0xffffffff);
    CHECK(clamped.check(1).verdict == Verdict::too_old);
}

TEST_CASE("replay window: ESN wrap of the low half", "[replay]") {
    ReplayWindow w(32, true, k2p32 - 2);
    CHECK(w.esn());

    auto c = w.check(0xffffffff);
    REQUIRE(c == ReplayWindow::Check{Verdict::ok, k2p32 - 1});
    REQUIRE(w.commit(c.seq) == Verdict::ok);

    // Case A (RFC 4303 A2.2): 0 is below Bl, so it is the next subspace, and valid there.
    c = w.check(0);
    REQUIRE(c == ReplayWindow::Check{Verdict::ok, k2p32});
    REQUIRE(w.commit(c.seq) == Verdict::ok);
    CHECK(w.highest() == k2p32);
    CHECK(w.bitmap64() == 0x7);

    // Case B: the window now straddles 2^32.
    CHECK(w.check(1) == ReplayWindow::Check{Verdict::ok, k2p32 + 1});
    CHECK(w.check(0) == ReplayWindow::Check{Verdict::replay, k2p32});
    CHECK(w.check(0xffffffff) == ReplayWindow::Check{Verdict::replay, k2p32 - 1});
    c = w.check(0xfffffff0);  // sent before the wrap, still inside the window
    REQUIRE(c == ReplayWindow::Check{Verdict::ok, 0xfffffff0});
    REQUIRE(w.commit(c.seq) == Verdict::ok);
    CHECK(w.check(0xfffffff0).verdict == Verdict::replay);
    CHECK(w.check(0xffffffe1) == ReplayWindow::Check{Verdict::ok, 0xffffffe1});  // left edge
    // One past the left edge is below Bl: inferred as the current subspace, far ahead; only
    // the ICV (which covers the high half, RFC 4303 §2.2.1) can tell.
    CHECK(w.check(0xffffffe0) == ReplayWindow::Check{Verdict::ok, k2p32 + 0xffffffe0});
    CHECK(w.bitmap64() == ((uint64_t{1} << 16) | 0x7));
    CHECK(w.max_seq_diff() == 0);

    // A committed number known in full is judged in full, whatever check() would infer now.
    CHECK(w.commit(k2p32 - 32) == Verdict::too_old);
    CHECK(w.commit(k2p32 - 31) == Verdict::ok);
}

TEST_CASE("replay window: ESN inference cases A and B", "[replay]") {
    SECTION("case A: window inside one subspace") {
        const uint64_t h = (uint64_t{5} << 32) | 0x100;
        ReplayWindow w(64, true, h);
        CHECK(w.check(0xc1) == ReplayWindow::Check{Verdict::ok, (uint64_t{5} << 32) | 0xc1});
        CHECK(w.check(0xc0) == ReplayWindow::Check{Verdict::ok, (uint64_t{6} << 32) | 0xc0});
        CHECK(w.check(0x0) == ReplayWindow::Check{Verdict::ok, uint64_t{6} << 32});
        CHECK(w.check(0x200) == ReplayWindow::Check{Verdict::ok, (uint64_t{5} << 32) | 0x200});
        CHECK(w.check(0xffffffff) ==
              ReplayWindow::Check{Verdict::ok, (uint64_t{5} << 32) | 0xffffffff});
        CHECK(w.check(0x100) == ReplayWindow::Check{Verdict::replay, h});
    }
    SECTION("case B: window straddles the subspace boundary") {
        const uint64_t h = (uint64_t{5} << 32) | 0x10;
        ReplayWindow w(64, true, h);
        CHECK(w.check(0xffffffd1) ==
              ReplayWindow::Check{Verdict::ok, (uint64_t{4} << 32) | 0xffffffd1});
        CHECK(w.check(0xffffffd0) ==
              ReplayWindow::Check{Verdict::ok, (uint64_t{5} << 32) | 0xffffffd0});
        CHECK(w.check(0x5) == ReplayWindow::Check{Verdict::ok, (uint64_t{5} << 32) | 0x5});
        CHECK(w.check(0x10) == ReplayWindow::Check{Verdict::replay, h});
        CHECK(w.check(0x11) == ReplayWindow::Check{Verdict::ok, h + 1});
    }
    SECTION("tl == W - 1 is case A with Bl = 0") {
        ReplayWindow w(32, true, (uint64_t{2} << 32) | 31);
        CHECK(w.check(0) == ReplayWindow::Check{Verdict::ok, uint64_t{2} << 32});
        CHECK(w.check(0xffffffff) ==
              ReplayWindow::Check{Verdict::ok, (uint64_t{2} << 32) | 0xffffffff});
    }
    SECTION("window 4096 straddling 2^32") {
        ReplayWindow w(4096, true, k2p32 + 100);
        CHECK(w.check(static_cast<uint32_t>(k2p32 - 3995)) ==
              ReplayWindow::Check{Verdict::ok, k2p32 - 3995});
        CHECK(w.check(static_cast<uint32_t>(k2p32 - 3996)) ==
              ReplayWindow::Check{Verdict::ok, 2 * k2p32 - 3996});
        REQUIRE(w.commit(k2p32 - 3995) == Verdict::ok);
        CHECK(w.check(static_cast<uint32_t>(k2p32 - 3995)).verdict == Verdict::replay);
        REQUIRE(w.commit(3 * k2p32 + 5) == Verdict::ok);
        CHECK(w.highest() == 3 * k2p32 + 5);
        CHECK(w.max_seq_diff() == 2 * k2p32 + 5 - 100 - 1);
        CHECK(w.bitmap64() == 0x1);
        CHECK(w.check(100).seq == 3 * k2p32 + 100);
    }
}

TEST_CASE("replay window: ESN at both ends of the 64-bit space", "[replay]") {
    SECTION("start: nothing before 1") {
        ReplayWindow w(32, true);
        CHECK(w.check(0) == ReplayWindow::Check{Verdict::too_old, 0});
        CHECK(w.check(0xfffffff0) == ReplayWindow::Check{Verdict::too_old, 0});
        CHECK(w.check(0xffffffff) == ReplayWindow::Check{Verdict::too_old, 0});
        CHECK(w.check(0xffffffe1) == ReplayWindow::Check{Verdict::too_old, 0});
        CHECK(w.check(0xffffffe0) == ReplayWindow::Check{Verdict::ok, 0xffffffe0});
        CHECK(w.check(1) == ReplayWindow::Check{Verdict::ok, 1});
        CHECK(w.commit(0) == Verdict::too_old);
        CHECK(w.highest() == 0);
    }
    SECTION("end: nothing after 2^64 - 1") {
        ReplayWindow w(32, true, ~uint64_t{0} - 1);
        auto c = w.check(0xffffffff);
        REQUIRE(c == ReplayWindow::Check{Verdict::ok, ~uint64_t{0}});
        REQUIRE(w.commit(c.seq) == Verdict::ok);
        CHECK(w.check(0) == ReplayWindow::Check{Verdict::too_old, 0});
        CHECK(w.check(0xffffffdf) == ReplayWindow::Check{Verdict::too_old, 0});
        CHECK(w.check(0xffffffe0).verdict == Verdict::ok);
        CHECK(w.check(0xffffffff).verdict == Verdict::replay);
        CHECK(w.bitmap64() == 0x3);
    }
}

TEST_CASE("replay window: commit re-validates after another packet was accepted", "[replay]") {
    ReplayWindow w(32, false);
    const auto a = w.check(5);
    const auto b = w.check(5);
    REQUIRE(a.verdict == Verdict::ok);
    REQUIRE(b.verdict == Verdict::ok);
    CHECK(w.commit(a.seq) == Verdict::ok);
    CHECK(w.commit(b.seq) == Verdict::replay);

    const auto late = w.check(10);
    REQUIRE(late.verdict == Verdict::ok);
    REQUIRE(w.commit(100) == Verdict::ok);
    const ReplayWindow before = w;
    CHECK(w.commit(late.seq) == Verdict::too_old);
    CHECK(w == before);
}

TEST_CASE("replay window: check never changes state, adversarial inputs stay in bounds",
          "[replay]") {
    std::mt19937_64 rng(0x5eed);
    for (uint32_t size : {1U, 2U, 32U, 63U, 64U, 65U, 1024U, 4095U, 4096U}) {
        for (bool esn : {false, true}) {
            std::vector<uint64_t> starts = {0, 1, 63, 64, size - 1U, size, 0xffffffff};
            if (esn) {
                starts.insert(starts.end(), {k2p32, k2p32 + size - 2, k2p32 + 64, 7 * k2p32 + 3,
                                             ~uint64_t{0} - size, ~uint64_t{0}});
            }
            for (uint64_t start : starts) {
                INFO("size " << size << " esn " << esn << " start " << start);
                ReplayWindow w(size, esn, start);
                Model m(size, esn, w.highest());
                for (uint64_t s = w.highest() - std::min<uint64_t>(w.highest(), 3 * size);
                     s < w.highest(); s += 3) {
                    if (w.commit(s) != m.commit(s)) FAIL("prefill commit " << s);
                }
                const ReplayWindow before = w;
                std::vector<uint32_t> lows = {0,  1,          2,          63,         64,
                                              65, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
                const auto tl = static_cast<uint32_t>(w.highest());
                for (uint32_t d = 0; d <= 132; ++d) {
                    lows.push_back(tl - 66 + d);
                    lows.push_back(tl - size - 66 + d);
                }
                for (int i = 0; i < 200; ++i)
                    lows.push_back(static_cast<uint32_t>(rng()));
                for (uint32_t k = 0; k < 256; ++k)
                    lows.push_back(0x3f + k * 0x01000001U);
                for (uint32_t lo : lows) {
                    const auto c = w.check(lo);
                    const uint64_t seq = m.infer(lo);
                    if (c != ReplayWindow::Check{m.classify(seq), seq}) {
                        FAIL("seq_lo " << lo << ": got " << name(c.verdict) << " " << c.seq);
                    }
                    ReplayWindow copy = w;
                    if (copy.commit(c.seq) != c.verdict) FAIL("commit disagrees at " << lo);
                }
                CHECK(w == before);
                CHECK(w.bitmap64() == m.bitmap());
                for (uint64_t seq : {uint64_t{0}, ~uint64_t{0}, k2p32, k2p32 - 1}) {
                    ReplayWindow copy = w;
                    CHECK(copy.commit(seq) == m.classify(seq));
                }
            }
        }
    }
}

TEST_CASE("replay window: randomized model test", "[replay]") {
    std::mt19937_64 rng(20240607);
    auto pick = [&rng](uint64_t lo, uint64_t hi) {
        return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
    };
    int packets = 0;
    for (uint32_t size :
         {1U, 2U, 31U, 32U, 63U, 64U, 65U, 127U, 128U, 129U, 1000U, 1024U, 4095U, 4096U}) {
        for (bool esn : {false, true}) {
            const uint64_t start = esn ? k2p32 - 3000 : k2p32 - 6000;
            for (uint64_t initial : {uint64_t{0}, start}) {
                ReplayWindow w(size, esn, initial);
                Model m(size, esn, initial);
                uint64_t p = initial;  // sender's true position
                const uint64_t limit = esn ? ~uint64_t{0} : 0xffffffff;
                auto true_seq = [&]() -> uint64_t {
                    const uint64_t r = pick(0, 99);
                    if (r < 55) return p < limit ? ++p : p;
                    if (r < 72) return p - std::min(p, pick(0, size + size / 4 + 2));
                    if (r < 80) return p - std::min(p, pick(0, 3));
                    if (r < 92) return p = std::min(limit, p + pick(2, 2 * size + 2));
                    if (r < 95) return p = std::min(limit, p + pick(size, 5000));
                    if (r < 96) return p = std::min(limit, p + pick(1, 1 << 20));
                    return rng();
                };
                for (int i = 0; i < 2000; ++i, ++packets) {
                    const auto lo = static_cast<uint32_t>(true_seq());
                    const auto c = w.check(lo);
                    const uint64_t seq = m.infer(lo);
                    const Verdict v = m.classify(seq);
                    if (c != ReplayWindow::Check{v, seq}) {
                        FAIL("size " << size << " esn " << esn << " packet " << i << " seq_lo "
                                     << lo << ": got " << name(c.verdict) << " " << c.seq
                                     << ", want " << name(v) << " " << seq);
                    }
                    const uint64_t r = pick(0, 99);
                    if (c.verdict == Verdict::ok && r >= 5) {
                        if (r < 12) {
                            const auto other = w.check(static_cast<uint32_t>(true_seq()));
                            if (other.verdict == Verdict::ok) {
                                (void)m.commit(other.seq);
                                if (w.commit(other.seq) != Verdict::ok) FAIL("interleaved");
                            }
                        }
                        const Verdict want = m.commit(c.seq);
                        const Verdict got = w.commit(c.seq);
                        if (got != want) {
                            FAIL("size " << size << " esn " << esn << " packet " << i << " commit "
                                         << c.seq << ": got " << name(got) << ", want "
                                         << name(want));
                        }
                    }
                    if (w.highest() != m.highest || w.bitmap64() != m.bitmap() ||
                        w.max_seq_diff() != m.max_diff) {
                        FAIL("size " << size << " esn " << esn << " packet " << i << ": highest "
                                     << w.highest() << "/" << m.highest << " bitmap "
                                     << w.bitmap64() << "/" << m.bitmap() << " max_seq_diff "
                                     << w.max_seq_diff() << "/" << m.max_diff);
                    }
                }
            }
        }
    }
    CHECK(packets == 14 * 2 * 2 * 2000);
}

TEST_CASE("outbound sequence: first number and exhaustion without ESN", "[replay]") {
    OutboundSequence fresh(false);
    CHECK(fresh.last() == 0);
    CHECK(fresh.remaining() == 0xffffffff);
    CHECK_FALSE(fresh.esn());
    CHECK(fresh.next() == std::optional<uint64_t>(1));
    CHECK(fresh.last() == 1);

    OutboundSequence s(false, k2p32 - 3);
    CHECK(s.remaining() == 2);
    CHECK(s.next() == std::optional<uint64_t>(k2p32 - 2));
    CHECK_FALSE(s.exhausted());
    CHECK(s.next() == std::optional<uint64_t>(k2p32 - 1));
    CHECK(s.exhausted());
    CHECK(s.remaining() == 0);
    CHECK(s.next() == std::nullopt);
    CHECK(s.next() == std::nullopt);
    CHECK(s.last() == k2p32 - 1);

    OutboundSequence clamped(false, uint64_t{1} << 40);
    CHECK(clamped.exhausted());
    CHECK(clamped.last() == 0xffffffff);
    CHECK(clamped.next() == std::nullopt);
}

TEST_CASE("outbound sequence: ESN continues past 2^32 and stops at 2^64 - 1", "[replay]") {
    OutboundSequence s(true, k2p32 - 3);
    CHECK(s.esn());
    CHECK(s.next() == std::optional<uint64_t>(k2p32 - 2));
    CHECK(s.next() == std::optional<uint64_t>(k2p32 - 1));
    CHECK(s.next() == std::optional<uint64_t>(k2p32));
    CHECK(s.next() == std::optional<uint64_t>(k2p32 + 1));
    CHECK_FALSE(s.exhausted());
    CHECK(s.last() == k2p32 + 1);
    CHECK(s.remaining() == ~uint64_t{0} - (k2p32 + 1));

    OutboundSequence end(true, ~uint64_t{0} - 1);
    CHECK(end.remaining() == 1);
    CHECK(end.next() == std::optional<uint64_t>(~uint64_t{0}));
    CHECK(end.exhausted());
    CHECK(end.next() == std::nullopt);
    CHECK(end.last() == ~uint64_t{0});

    static_assert(OutboundSequence(false, 0xfffffffe).next() == 0xffffffff);
    static_assert(!OutboundSequence(false, 0xffffffff).next().has_value());
}

TEST_CASE("a window restored from highest and bitmap64 refuses every replay", "[replay]") {
    std::mt19937_64 rng(4303);
    for (uint32_t size : {1u, 7u, 32u, 64u, 100u, 4096u}) {
        for (bool esn : {false, true}) {
            CAPTURE(size, esn);
            const uint64_t start = esn ? k2p32 - 50 : 1000;
            ReplayWindow live(size, esn, start);
            std::set<uint64_t> received{start};
            for (int i = 0; i < 400; ++i) {
                const uint64_t seq = live.highest() + 1 + rng() % 5 - (rng() % 3 == 0 ? 40 : 0);
                const auto c = live.check(static_cast<uint32_t>(seq));
                // (With ESN a number left of the window reads as one 2^32 further on, which the
                // ICV would refuse; only numbers read as sent are received here.)
                if (c.verdict == Verdict::ok && c.seq == seq && live.commit(seq) == Verdict::ok)
                    received.insert(seq);
            }
            const uint64_t top = live.highest();
            ReplayWindow restored(size, esn, top);
            restored.restore(top, live.bitmap64(), live.max_seq_diff());
            CHECK(restored.highest() == top);
            CHECK(restored.bitmap64() == live.bitmap64());
            CHECK(restored.max_seq_diff() == live.max_seq_diff());

            const uint64_t newest = std::min<uint64_t>(size, 64);
            for (uint64_t back = 0; back < size + 3 && back < top; ++back) {
                const uint64_t seq = top - back;
                const Verdict got = restored.check(static_cast<uint32_t>(seq)).verdict;
                INFO("seq " << seq << " (" << back << " behind)");
                if (back >= size) {
                    CHECK(got == live.check(static_cast<uint32_t>(seq)).verdict);
                } else if (back < newest) {
                    CHECK(got == (received.count(seq) ? Verdict::replay : Verdict::ok));
                } else {
                    CHECK(got == Verdict::replay);  // older than the bitmap: taken as received
                }
            }
            // Numbers right of the window were never received, also inside highest's block.
            for (uint64_t ahead = 1; ahead < 70; ahead += 3) {
                const auto c = restored.check(static_cast<uint32_t>(top + ahead));
                CHECK(c.verdict == Verdict::ok);
                CHECK(c.seq == top + ahead);
            }
            REQUIRE(restored.commit(top + 3) == Verdict::ok);
            CHECK(restored.commit(top + 3) == Verdict::replay);
            if (size > 2) CHECK(restored.commit(top + 1) == Verdict::ok);
            if (size > 3)
                CHECK(restored.check(static_cast<uint32_t>(top + 2)).verdict == Verdict::ok);
        }
    }
    ReplayWindow empty(32, false);
    empty.restore(0, 0, 0);
    CHECK(empty.highest() == 0);
    CHECK(empty.check(1).verdict == Verdict::ok);
}

TEST_CASE("replay window: bitmap64 matches the numbers received, for every window size",
          "[replay]") {
    // Random arrivals around a moving front (late, duplicate, just ahead, far ahead), against a
    // plain set of what commit() accepted.
    std::mt19937_64 rng(7);
    for (uint32_t size : {1u, 2u, 31u, 63u, 64u, 65u, 100u, 128u, 129u, 1000u, 4096u}) {
        ReplayWindow w(size, false);
        std::set<uint64_t> received;
        uint64_t front = 1;
        for (int step = 0; step < 3000; ++step) {
            const uint64_t r = rng() % 100;
            uint64_t seq = front;
            if (r < 40) {
                seq = front + 1 + rng() % 3;
            } else if (r < 80) {
                seq = front > 70 ? front - rng() % 70 : 1 + rng() % front;
            } else if (r < 95) {
                seq = front + rng() % 200;
            } else {
                seq = front + rng() % 10000;
            }
            const auto c = w.check(static_cast<uint32_t>(seq));
            if (c.verdict == Verdict::ok && w.commit(c.seq) == Verdict::ok) received.insert(seq);
            front = std::max(front, seq);
            uint64_t expected = 0;
            const uint64_t n = std::min<uint64_t>({size, 64, w.highest()});
            for (uint64_t i = 0; i < n; ++i) {
                if (received.count(w.highest() - i) != 0) expected |= uint64_t{1} << i;
            }
            INFO("size " << size << " step " << step << " highest " << w.highest());
            REQUIRE(w.bitmap64() == expected);
        }
    }
}

}  // namespace ipsecfs
