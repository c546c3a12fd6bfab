#pragma once
// The lifetime watcher: a thread that looks at every SA with a limit (or a sequence space to
// exhaust) a few times a second, announces soft and hard crossings (core/lifetime.hpp) and takes
// hard-expired SAs out of the SADB. It never touches the packet path: the workers only flip
// each SA's state; this thread does the slow part (events, the SADB transaction).

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/lifetime.hpp"
#include "core/sadb.hpp"

namespace ipsecfs::mountd {

class LifetimeWatcher {
  public:
    struct Options {
        // Time limits are seen at most this late; hard byte/packet limits are enforced by the
        // packet path at once, only their event and the removal wait for the next pass.
        std::chrono::milliseconds interval{250};
        uint64_t seq_soft_headroom = uint64_t{1} << 24;
    };
    using Publish = std::function<void(const LifeEvent&)>;

    LifetimeWatcher(Sadb& sadb, std::function<int64_t()> now_ns, Publish publish, Options options);
    ~LifetimeWatcher();
    LifetimeWatcher(const LifetimeWatcher&) = delete;
    LifetimeWatcher& operator=(const LifetimeWatcher&) = delete;

    void start();
    void stop();
    // One pass (the thread's body; tests call it directly with a fake clock).
    void pass();

  private:
    void loop();

    Sadb& sadb_;
    std::function<int64_t()> now_ns_;
    Publish publish_;
    Options options_;
    // The SAs worth a look, rebuilt when the SADB generation changes.
    uint64_t watched_generation_ = UINT64_MAX;
    std::vector<SaPtr> watched_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ipsecfs::mountd
