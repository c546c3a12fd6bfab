#include "core/replay_window.hpp"

#include <algorithm>

namespace ipsecfs {

namespace {

constexpr uint64_t kMax32 = 0xffffffffULL;

constexpr uint64_t block_of(uint64_t seq) {
    return seq >> 6;
}
constexpr uint64_t bit_of(uint64_t seq) {
    return uint64_t{1} << (seq & 63);
}

constexpr uint64_t reverse_bits(uint64_t x) {
    x = ((x >> 1) & 0x5555555555555555ull) | ((x & 0x5555555555555555ull) << 1);
    x = ((x >> 2) & 0x3333333333333333ull) | ((x & 0x3333333333333333ull) << 2);
    x = ((x >> 4) & 0x0f0f0f0f0f0f0f0full) | ((x & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(x);
}

// A window of W numbers touches at most ceil((W - 1) / 64) + 1 blocks; that is RFC 6479's
// "one redundant block" (W / 64 + 1 for W a multiple of 64), the smallest ring in which the
// block being entered never holds a number still inside the window.
constexpr uint32_t ring_blocks(uint32_t size) {
    return (size + 62) / 64 + 1;
}

}  // namespace

ReplayWindow::ReplayWindow(uint32_t size, bool esn, uint64_t initial_highest)
    : size_(std::clamp(size, uint32_t{1}, kMaxSize)),
      esn_(esn),
      highest_(esn ? initial_highest : std::min(initial_highest, kMax32)),
      ring_(ring_blocks(size_), 0) {
    if (highest_ != 0) ring_[top_] |= bit_of(highest_);
}

void ReplayWindow::restore(uint64_t highest, uint64_t bitmap, uint64_t max_seq_diff) noexcept {
    highest_ = esn_ ? highest : std::min(highest, kMax32);
    max_seq_diff_ = max_seq_diff;
    top_ = 0;
    if (highest_ == 0) {
        std::fill(ring_.begin(), ring_.end(), 0);
        return;
    }
    std::fill(ring_.begin(), ring_.end(), ~uint64_t{0});
    // Bits right of highest in its block stand for numbers not received yet.
    const uint64_t above = highest_ & 63;
    ring_[top_] = above == 63 ? ~uint64_t{0} : (uint64_t{1} << (above + 1)) - 1;
    const uint64_t n = std::min<uint64_t>({size_, 64, highest_});
    for (uint64_t i = 1; i < n; ++i) {  // bit 0, highest itself, was received
        const uint64_t seq = highest_ - i;
        if (((bitmap >> i) & 1) == 0) ring_[slot(seq)] &= ~bit_of(seq);
    }
}

// RFC 4303 Appendix A2.2: only the low half Seql is sent; Seqh is chosen so that the number
// falls inside the window or to its right. Case A: the window lies within one 2^32 subspace
// (Tl >= W - 1). Case B: it straddles the boundary into the previous subspace.
uint64_t ReplayWindow::infer(uint32_t seq_lo) const noexcept {
    const auto tl = static_cast<uint32_t>(highest_);
    const auto th = static_cast<uint32_t>(highest_ >> 32);
    const uint32_t bl = tl - (size_ - 1);  // Bl = Tl - W + 1, modulo 2^32 in case B
    uint32_t seqh = th;
    if (tl >= size_ - 1) {
        if (seq_lo < bl) {
            if (th == UINT32_MAX) return 0;  // past 2^64 - 1: the sender must have stopped
            seqh = th + 1;
        }
    } else if (seq_lo >= bl) {
        if (th == 0) return 0;  // before the first number
        seqh = th - 1;
    }
    return (uint64_t{seqh} << 32) | seq_lo;
}

ReplayWindow::Verdict ReplayWindow::classify(uint64_t seq) const noexcept {
    // RFC 4303 §3.3.3: the first packet carries 1, so 0 is never valid; without ESN the
    // counter never cycles, so nothing lies beyond 2^32 - 1 (a low number is not a wrap).
    if (seq == 0 || (!esn_ && seq > kMax32)) return Verdict::too_old;
    if (seq > highest_) return Verdict::ok;
    if (highest_ - seq >= size_) return Verdict::too_old;
    return (ring_[slot(seq)] & bit_of(seq)) != 0 ? Verdict::replay : Verdict::ok;
}

// seq must be inside the window, so it is at most ring_.size() - 1 blocks behind the top.
uint32_t ReplayWindow::slot(uint64_t seq) const noexcept {
    const auto back = static_cast<uint32_t>(block_of(highest_) - block_of(seq));
    return top_ >= back ? top_ - back : top_ + static_cast<uint32_t>(ring_.size()) - back;
}

void ReplayWindow::advance(uint64_t seq) noexcept {
    max_seq_diff_ = std::max(max_seq_diff_, seq - highest_ - 1);
    const uint64_t blocks = block_of(seq) - block_of(highest_);
    const auto n = static_cast<uint32_t>(ring_.size());
    if (blocks >= n) {
        std::fill(ring_.begin(), ring_.end(), 0);
    } else {
        for (uint64_t i = 0; i < blocks; ++i) {
            top_ = top_ + 1 == n ? 0 : top_ + 1;
            ring_[top_] = 0;
        }
    }
    highest_ = seq;
    ring_[top_] |= bit_of(seq);
}

ReplayWindow::Check ReplayWindow::check(uint32_t seq_lo) const noexcept {
    const uint64_t seq = esn_ ? infer(seq_lo) : seq_lo;
    return {classify(seq), seq};
}

// RFC 4303 §3.4.3: the window is updated only after the ICV verified; another packet may
// have been recorded since check(), so the verdict is taken again on the full number.
ReplayWindow::Verdict ReplayWindow::commit(uint64_t seq) noexcept {
    const Verdict v = classify(seq);
    if (v != Verdict::ok) return v;
    if (seq > highest_) {
        advance(seq);
    } else {
        ring_[slot(seq)] |= bit_of(seq);
    }
    return Verdict::ok;
}

uint64_t ReplayWindow::bitmap64() const noexcept {
    // Read per packet (the bitmap counter), so two blocks at once instead of 64 bits one by one:
    // highest's block T holds bit i (i <= h, h = highest mod 64) at h - i, the block before it P
    // at 64 + h - i, so in the bit-reversed blocks they sit at 63 - h + i and i - h - 1. With one
    // block in the ring (a window of 1) P is T again and masked off.
    const uint64_t n = std::min<uint64_t>({size_, 64, highest_});
    if (n == 0) return 0;
    const auto h = static_cast<unsigned>(highest_ & 63);
    const auto blocks = static_cast<uint32_t>(ring_.size());
    const uint64_t top = reverse_bits(ring_[top_]);
    const uint64_t before = reverse_bits(ring_[top_ == 0 ? blocks - 1 : top_ - 1]);
    uint64_t out = top >> (63 - h);
    if (h < 63) out |= before << (h + 1);
    return n == 64 ? out : out & ((uint64_t{1} << n) - 1);
}

}  // namespace ipsecfs
