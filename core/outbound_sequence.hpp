#pragma once
// Outbound sequence counter, RFC 4303 §3.3.3: the first packet carries 1 and the counter must
// never cycle; once the last number is used the SA stops sending (and must be rekeyed). With
// ESN (RFC 4304) the counter is 64 bits wide, otherwise 32.
//
// Not thread-safe by design: each outbound SA is owned by one worker, the only caller.

#include <cstdint>
#include <optional>

namespace ipsecfs {

class OutboundSequence {
  public:
    static constexpr uint64_t kLast32 = 0xffffffffULL;
    static constexpr uint64_t kLast64 = UINT64_MAX;

    explicit constexpr OutboundSequence(bool esn, uint64_t last_sent = 0) noexcept
        : limit_(esn ? kLast64 : kLast32), last_(last_sent < limit_ ? last_sent : limit_) {}

    [[nodiscard]] constexpr std::optional<uint64_t> next() noexcept {
        if (last_ >= limit_) return std::nullopt;
        return ++last_;
    }

    constexpr uint64_t last() const noexcept { return last_; }
    constexpr uint64_t remaining() const noexcept { return limit_ - last_; }
    constexpr bool exhausted() const noexcept { return last_ >= limit_; }
    constexpr bool esn() const noexcept { return limit_ == kLast64; }

  private:
    uint64_t limit_;
    uint64_t last_;
};

}  // namespace ipsecfs
