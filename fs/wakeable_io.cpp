#include "fs/wakeable_io.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

namespace ipsecfs::fs {

Result<WakeableIo> WakeableIo::create() {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return fail(std::string("eventfd: ") + std::strerror(errno));
    return WakeableIo(std::move(fd));
}

ssize_t WakeableIo::read(int fuse_fd, void* buf, std::size_t len) const {
    pollfd fds[2] = {{fuse_fd, POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 2, -1) < 0) return -1;
        if (fds[1].revents != 0) {
            errno = EINTR;
            return -1;
        }
        // Several workers poll one descriptor; the losers of the race see EAGAIN and wait again.
        const ssize_t n = ::read(fuse_fd, buf, len);
        if (n >= 0 || errno != EAGAIN) return n;
    }
}

bool WakeableIo::sleep(int64_t ns) const {
    // poll() counts whole milliseconds; ppoll() takes the exact wait.
    const timespec ts{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
    pollfd fd{wake_fd_.get(), POLLIN, 0};
    if (::ppoll(&fd, 1, &ts, nullptr) > 0) {
        errno = EINTR;
        return false;
    }
    return true;
}

void WakeableIo::wake() const noexcept {
    // Never read back: the eventfd stays readable, so every worker's poll() returns.
    const int saved_errno = errno;
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
    errno = saved_errno;
}

}  // namespace ipsecfs::fs
