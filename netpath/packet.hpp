#pragma once
// A packet buffer with headroom, so transforms grow packets in place (an outer IP header in
// front, an ESP trailer behind) without copying the payload, and the batch the workers move.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/address.hpp"

namespace ipsecfs::netpath {

// How a protected packet travels between the gateways.
enum class OuterKind : uint8_t {
    raw,  // IP protocol 50/51/108 directly
    udp,  // ESP in UDP, RFC 3948
};

struct OuterInfo {
    OuterKind kind = OuterKind::raw;
    IpAddress src;
    IpAddress dst;
    uint16_t sport = 0;
    uint16_t dport = 0;
};

class Packet {
  public:
    static constexpr std::size_t kHeadroom = 256;
    static constexpr std::size_t kMaxData = 65535;
    static constexpr std::size_t kTailroom = 512;
    static constexpr std::size_t kCapacity = kHeadroom + kMaxData + kTailroom;

    uint8_t* data() { return buf_.data() + offset_; }
    const uint8_t* data() const { return buf_.data() + offset_; }
    std::size_t size() const { return size_; }
    std::span<uint8_t> bytes() { return {data(), size_}; }
    std::span<const uint8_t> bytes() const { return {data(), size_}; }

    std::size_t headroom() const { return offset_; }
    std::size_t tailroom() const { return kCapacity - offset_ - size_; }

    // Starts empty with the standard headroom; returns the writable area.
    std::span<uint8_t> reset() {
        offset_ = kHeadroom;
        size_ = 0;
        return {buf_.data() + offset_, kMaxData};
    }
    void set_size(std::size_t n) { size_ = n; }
    void set_view(std::size_t offset, std::size_t n) {
        offset_ = offset;
        size_ = n;
    }
    // Grows at the front by n bytes (callers check headroom()).
    void push_front(std::size_t n) {
        offset_ -= n;
        size_ += n;
    }
    void pull_front(std::size_t n) {
        offset_ += n;
        size_ -= n;
    }
    uint8_t* base() { return buf_.data(); }
    std::size_t offset() const { return offset_; }

    OuterInfo outer;            // set by the transport on receive, by the transforms for sending
    std::size_t clear_len = 0;  // length of the clear packet this one carries (for counters)

  private:
    std::size_t offset_ = kHeadroom;
    std::size_t size_ = 0;
    alignas(64) std::array<uint8_t, kCapacity> buf_;
};

// A fixed set of packet buffers, allocated once per worker.
class PacketPool {
  public:
    explicit PacketPool(std::size_t n) {
        storage_.reserve(n);
        for (std::size_t i = 0; i < n; ++i)
            storage_.push_back(std::make_unique<Packet>());
        for (auto& p : storage_)
            pointers_.push_back(p.get());
    }
    std::span<Packet*> all() { return pointers_; }

  private:
    std::vector<std::unique_ptr<Packet>> storage_;
    std::vector<Packet*> pointers_;
};

inline constexpr std::size_t kBatchSize = 64;

}  // namespace ipsecfs::netpath
