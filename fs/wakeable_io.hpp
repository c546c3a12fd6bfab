#pragma once
// Reads FUSE requests through a poll() that an eventfd can interrupt. libfuse 3.14's
// multi-threaded loop has no way to wake workers blocked in read(/dev/fuse) after
// fuse_session_exit(): it relies on a signal or an unmount. Installed as the session's custom
// read, this lets exit() end the loop from any thread (or a signal handler) with one write().

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "core/result.hpp"
#include "fs/unique_fd.hpp"

namespace ipsecfs::fs {

class WakeableIo {
  public:
    static Result<WakeableIo> create();

    // The next request from `fuse_fd` (which must be non-blocking), or -1 with errno EINTR once
    // woken. libfuse ends the loop on any error after fuse_session_exit().
    ssize_t read(int fuse_fd, void* buf, std::size_t len) const;
    // Sleeps up to `ns` nanoseconds; false (errno EINTR) once woken.
    bool sleep(int64_t ns) const;
    // Async-signal-safe. Wakes every current and future read() and sleep().
    void wake() const noexcept;

  private:
    explicit WakeableIo(UniqueFd fd) : wake_fd_(std::move(fd)) {}
    UniqueFd wake_fd_;
};

}  // namespace ipsecfs::fs
