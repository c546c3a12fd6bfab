#pragma once
// ipsec-mountd --on-expire CMD: runs `/bin/sh -c CMD` once per lifetime event, with the event in
// its environment (core/lifetime.hpp, life_event_environment), on a thread of its own, one hook
// at a time, in event order. post() never blocks: the packet path and the lifetime watcher never
// wait for a hook. A hook that outlives its timeout is killed; a full queue drops the event; both
// and every failing exit status are logged on stderr.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/lifetime.hpp"

namespace ipsecfs::mountd {

class ExpireHook {
  public:
    static constexpr std::size_t kMaxQueued = 4096;

    ExpireHook(std::string command, std::chrono::milliseconds timeout);
    ~ExpireHook();  // kills a running hook and drops what is queued
    ExpireHook(const ExpireHook&) = delete;
    ExpireHook& operator=(const ExpireHook&) = delete;

    void post(const LifeEvent& event);

    struct Stats {
        uint64_t runs = 0, failures = 0, timeouts = 0, dropped = 0;
    };
    Stats stats() const;
    // Waits until nothing is queued or running (tests), at most `limit`.
    bool wait_idle(std::chrono::milliseconds limit);

  private:
    void loop();
    void run_one(const LifeEvent& event);

    std::string command_;
    std::chrono::milliseconds timeout_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<LifeEvent> queue_;
    bool running_ = false;
    bool stopping_ = false;
    Stats stats_;
    std::thread thread_;
};

}  // namespace ipsecfs::mountd
