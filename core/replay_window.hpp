#pragma once
// Inbound anti-replay window: RFC 4303 §3.4.3 and Appendix A (64-bit ESN, RFC 4304), stored as
// RFC 6479 suggests: a ring of 64-bit blocks plus one redundant block, so the window advances by
// clearing whole blocks and never shifts bits. Windows of 1..kMaxSize packets; the ring is one
// allocation made at construction, never on the packet path.
//
// Not thread-safe by design: each inbound SA is owned by one worker, the only caller.

#include <cstdint>
#include <vector>

namespace ipsecfs {

class ReplayWindow {
  public:
    static constexpr uint32_t kMaxSize = 4096;

    enum class Verdict : uint8_t {
        ok,       // right of the window, or inside it and not yet received
        replay,   // already received, inside the window
        too_old,  // left of the window (or no valid number matches the wire bits)
    };
    struct Check {
        Verdict verdict;
        // Full number inferred from the wire bits (with ESN its high half goes into the ICV,
        // RFC 4303 §2.2.1); 0 when no valid number matches.
        uint64_t seq;
        friend bool operator==(const Check&, const Check&) = default;
    };

    // size is clamped to 1..kMaxSize. initial_highest: highest number already received
    // (0 = none); only that number is marked received.
    ReplayWindow(uint32_t size, bool esn, uint64_t initial_highest = 0);
    // Brings back a window saved as highest() and bitmap64() (the state file): the newest
    // min(size, 64) numbers as the bitmap says and, since it does not say, every older number
    // inside the window as received: a late packet dropped is better than a replay accepted.
    void restore(uint64_t highest, uint64_t bitmap, uint64_t max_seq_diff) noexcept;

    // Pre-check before the ICV is verified; never changes state.
    [[nodiscard]] Check check(uint32_t seq_lo) const noexcept;
    // After the ICV verified: re-validates seq against the current state and records it on ok.
    [[nodiscard]] Verdict commit(uint64_t seq) noexcept;

    uint64_t highest() const noexcept { return highest_; }
    // Bit i = (highest - i) received, for the newest min(size, 64) numbers.
    uint64_t bitmap64() const noexcept;
    uint64_t max_seq_diff() const noexcept { return max_seq_diff_; }
    uint32_t size() const noexcept { return size_; }
    bool esn() const noexcept { return esn_; }

    bool operator==(const ReplayWindow&) const = default;

  private:
    uint64_t infer(uint32_t seq_lo) const noexcept;
    Verdict classify(uint64_t seq) const noexcept;
    uint32_t slot(uint64_t seq) const noexcept;
    void advance(uint64_t seq) noexcept;

    uint32_t size_;
    bool esn_;
    uint32_t top_ = 0;  // ring index of the block holding highest_
    uint64_t highest_;
    uint64_t max_seq_diff_ = 0;
    std::vector<uint64_t> ring_;
};

}  // namespace ipsecfs
