#pragma once
// Outbound sequence counter, RFC 4303 §3.3.3: the first packet carries 1 and the counter must
// never cycle; once the last number is used the SA stops sending (and must be rekeyed). With
// ESN (RFC 4304) the counter is 64 bits wide, otherwise 32.
//
// A daemon with a state file also never sends a number twice across restarts (a repeated number
// under one key repeats the AES-GCM/ChaCha20 nonce, RFC 4106 §3): the counter may only hand out
// numbers up to a SequenceReservation's mark, which the state file already holds. Restarted, the
// SA continues above the saved mark.
//
// OutboundSequence is not thread-safe by design: each outbound SA is owned by one worker, the
// only caller. The reservation is shared: the worker reads the mark, the state writer raises it.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <optional>

namespace ipsecfs {

class SequenceReservation {
  public:
    // Numbers reserved per extension, sized by the SA's rate so that the half left when the
    // writer extends lasts at least one second (the budget for one state file write and fsync):
    // 2^16 up to 32,768 packets/s, doubling with the rate, at most 2^24. A SIGKILL loses at most
    // one block of the number space (1/65536 of a 32-bit one at low rates); a clean stop none.
    static constexpr uint64_t kMinBlock = uint64_t{1} << 16;
    static constexpr uint64_t kMaxBlock = uint64_t{1} << 24;

    explicit SequenceReservation(uint64_t mark) noexcept : mark_(mark) {}
    SequenceReservation(const SequenceReservation&) = delete;
    SequenceReservation& operator=(const SequenceReservation&) = delete;

    uint64_t mark() const noexcept { return mark_.load(std::memory_order_acquire); }
    // Once the state file holding `mark` is durable; a lower mark changes nothing.
    void extend_to(uint64_t mark) noexcept {
        uint64_t cur = mark_.load(std::memory_order_relaxed);
        while (cur < mark && !mark_.compare_exchange_weak(cur, mark, std::memory_order_release)) {
        }
    }

    // The writer's policy. An extension is due once half of the last block is used, unless the
    // mark is already the last number there is.
    static constexpr bool due(uint64_t last_sent, uint64_t mark, uint64_t block,
                              uint64_t limit) noexcept {
        if (mark >= limit) return false;
        return last_sent >= mark || mark - last_sent <= block / 2;
    }
    static constexpr uint64_t block_for_rate(uint64_t packets_per_second) noexcept {
        if (packets_per_second >= kMaxBlock / 2) return kMaxBlock;
        return std::clamp(std::bit_ceil(2 * packets_per_second), kMinBlock, kMaxBlock);
    }
    // The new mark: a block above the last number sent, never beyond the limit nor below `mark`.
    static constexpr uint64_t extended(uint64_t last_sent, uint64_t mark, uint64_t block,
                                       uint64_t limit) noexcept {
        const uint64_t next =
            block >= limit - std::min(last_sent, limit) ? limit : last_sent + block;
        return std::max(next, mark);
    }

  private:
    std::atomic<uint64_t> mark_;
};

class OutboundSequence {
  public:
    static constexpr uint64_t kLast32 = 0xffffffffULL;
    static constexpr uint64_t kLast64 = UINT64_MAX;

    // reservation: null = no state file, every number up to the limit may be used.
    explicit constexpr OutboundSequence(bool esn, uint64_t last_sent = 0,
                                        const SequenceReservation* reservation = nullptr) noexcept
        : limit_(esn ? kLast64 : kLast32),
          last_(last_sent < limit_ ? last_sent : limit_),
          reservation_(reservation) {}

    // nullopt: exhausted(), or the next number is not reserved yet (the packet is dropped; the
    // state writer extends the reservation in the background).
    [[nodiscard]] constexpr std::optional<uint64_t> next() noexcept {
        if (last_ >= limit_) return std::nullopt;
        if (reservation_ && last_ >= reservation_->mark()) return std::nullopt;
        return ++last_;
    }

    constexpr uint64_t last() const noexcept { return last_; }
    constexpr uint64_t limit() const noexcept { return limit_; }
    constexpr uint64_t remaining() const noexcept { return limit_ - last_; }
    constexpr bool exhausted() const noexcept { return last_ >= limit_; }
    constexpr bool esn() const noexcept { return limit_ == kLast64; }

  private:
    uint64_t limit_;
    uint64_t last_;
    const SequenceReservation* reservation_;
};

}  // namespace ipsecfs
