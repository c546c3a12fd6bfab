#include "mountd/lib/shutdown_signals.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <cstring>

namespace ipsecfs::mountd {
namespace {

sigset_t shutdown_set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

}  // namespace

void ShutdownSignals::block() {
    const sigset_t set = shutdown_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
}

Result<std::unique_ptr<ShutdownSignals>> ShutdownSignals::start(std::function<void()> on_signal) {
    const sigset_t set = shutdown_set();
    fs::UniqueFd signals(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals) return fail(std::string("signalfd: ") + std::strerror(errno));
    fs::UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) return fail(std::string("eventfd: ") + std::strerror(errno));
    std::unique_ptr<ShutdownSignals> s(new ShutdownSignals(std::move(signals), std::move(wake)));
    s->thread_ = std::thread([p = s.get(), f = std::move(on_signal)] {
        ::pthread_setname_np(::pthread_self(), "ipsec-signals");
        p->wait(f);
    });
    return s;
}

ShutdownSignals::~ShutdownSignals() {
    const uint64_t one = 1;
    while (::write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
    if (thread_.joinable()) thread_.join();
}

void ShutdownSignals::wait(const std::function<void()>& on_signal) {
    for (;;) {
        pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        signalfd_siginfo info{};
        if (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            on_signal();
        }
    }
}

}  // namespace ipsecfs::mountd
