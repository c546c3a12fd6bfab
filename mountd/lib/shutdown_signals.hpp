#pragma once
// SIGTERM and SIGINT, taken on a thread of their own: block() them before any other thread
// starts (threads inherit the mask), then a ShutdownSignals waits for them with a signalfd and
// calls `on_signal` for each.

#include <functional>
#include <memory>
#include <thread>

#include "core/result.hpp"
#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

class ShutdownSignals {
  public:
    // Blocks SIGTERM and SIGINT in the calling thread and ignores SIGPIPE.
    static void block();
    static Result<std::unique_ptr<ShutdownSignals>> start(std::function<void()> on_signal);
    ~ShutdownSignals();  // stops waiting
    ShutdownSignals(const ShutdownSignals&) = delete;
    ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  private:
    ShutdownSignals(fs::UniqueFd signals, fs::UniqueFd wake)
        : signals_(std::move(signals)), wake_(std::move(wake)) {}
    void wait(const std::function<void()>& on_signal);

    fs::UniqueFd signals_;  // signalfd for SIGTERM, SIGINT
    fs::UniqueFd wake_;     // eventfd: written by the destructor
    std::thread thread_;
};

}  // namespace ipsecfs::mountd
