#pragma once
// In-memory TUN devices and a transport pair (like wireguard-go's tuntest and bindtest), so two
// real engines with their worker threads run back to back inside one test process.

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "netpath/ip_header.hpp"
#include "netpath/outer_transport.hpp"
#include "netpath/tun_device.hpp"

namespace ipsecfs::testing {

using Bytes = std::vector<uint8_t>;

// A queue whose eventfd is readable exactly while it holds something.
class SignalledQueue {
  public:
    SignalledQueue() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    ~SignalledQueue() { ::close(fd_); }
    void push(Bytes b, netpath::OuterInfo info = {}) {
        std::lock_guard lock(m_);
        q_.push_back({std::move(b), info});
        const uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(fd_, &one, sizeof(one));
        cv_.notify_all();
    }
    bool pop(Bytes& out, netpath::OuterInfo& info) {
        std::lock_guard lock(m_);
        if (q_.empty()) return false;
        out = std::move(q_.front().first);
        info = q_.front().second;
        q_.pop_front();
        if (q_.empty()) {
            uint64_t v;
            [[maybe_unused]] auto n = ::read(fd_, &v, sizeof(v));
        }
        return true;
    }
    // Waits (bounded) until the queue holds at least n items; returns the count.
    std::size_t wait_for(std::size_t n, std::chrono::milliseconds limit) {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, limit, [&] { return q_.size() >= n; });
        return q_.size();
    }
    int fd() const { return fd_; }

  private:
    int fd_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::pair<Bytes, netpath::OuterInfo>> q_;
};

class FakeTun final : public netpath::TunDevice {
  public:
    explicit FakeTun(std::string name) : name_(std::move(name)) {}
    // What the kernel routes into the tunnel.
    SignalledQueue from_kernel;
    // What the engine delivered to the kernel.
    SignalledQueue to_kernel;
    unsigned mtu = 0;
    // The kernel's answer to a packet the engine delivers, queued during write() as the Linux
    // stack queues an ICMP echo reply or a TCP ACK (empty: no answer).
    std::function<Bytes(const Bytes&)> answer;

    std::size_t read(std::span<netpath::Packet* const> packets) override {
        std::size_t n = 0;
        Bytes b;
        netpath::OuterInfo info;
        while (n < packets.size() && from_kernel.pop(b, info)) {
            auto area = packets[n]->reset();
            std::memcpy(area.data(), b.data(), b.size());
            packets[n]->set_size(b.size());
            ++n;
        }
        return n;
    }
    std::size_t write(std::span<netpath::Packet* const> packets) override {
        for (auto* p : packets) {
            Bytes b(p->data(), p->data() + p->size());
            if (answer) from_kernel.push(answer(b));
            to_kernel.push(std::move(b));
        }
        return packets.size();
    }
    int poll_fd() const override { return from_kernel.fd(); }
    Result<void> set_mtu(unsigned m) override {
        mtu = m;
        return {};
    }
    const std::string& name() const override { return name_; }

  private:
    std::string name_;
};

// One end of a wire; what one end sends, the other receives, as a full IP packet (the outer
// header the kernel would have carried is rebuilt for UDP-encapsulated packets).
class FakeTransport final : public netpath::OuterTransport {
  public:
    FakeTransport* peer = nullptr;
    SignalledQueue inbox;
    std::atomic<std::size_t> sent{0};

    std::size_t receive(std::span<netpath::Packet* const> packets) override {
        std::size_t n = 0;
        Bytes b;
        netpath::OuterInfo info;
        while (n < packets.size() && inbox.pop(b, info)) {
            netpath::Packet& p = *packets[n];
            auto area = p.reset();
            std::size_t off = 0;
            if (info.kind == netpath::OuterKind::udp) {
                off = netpath::write_ip_header(area.data(), info.src, info.dst, netpath::kProtoEsp,
                                               b.size(), 0);
            }
            std::memcpy(area.data() + off, b.data(), b.size());
            p.set_size(off + b.size());
            p.outer = info;
            ++n;
        }
        return n;
    }
    std::size_t send(std::span<netpath::Packet* const> packets) override {
        for (auto* p : packets)
            peer->inbox.push(Bytes(p->data(), p->data() + p->size()), p->outer);
        sent += packets.size();
        return packets.size();
    }
    int poll_fd() const override { return inbox.fd(); }
};

}  // namespace ipsecfs::testing
