#include "mountd/lib/startup_report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ipsecfs::mountd {
namespace {

constexpr std::string_view kReady = "ready\n";

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

[[noreturn]] void wait_for_child(fs::UniqueFd from_child) {
    std::string report;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(from_child.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        report.append(buf, static_cast<std::size_t>(n));
    }
    if (report == kReady) std::exit(0);
    if (report.empty()) report = "ipsec-mountd: exited during start-up\n";
    std::fputs(report.c_str(), stderr);
    std::exit(1);
}

}  // namespace

StartupReport StartupReport::detach() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        std::fprintf(stderr, "ipsec-mountd: pipe: %s\n", std::strerror(errno));
        std::exit(1);
    }
    fs::UniqueFd from_child(fds[0]), to_parent(fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::fprintf(stderr, "ipsec-mountd: fork: %s\n", std::strerror(errno));
        std::exit(1);
    }
    if (pid > 0) {
        to_parent.reset();
        wait_for_child(std::move(from_child));
    }
    from_child.reset();
    ::setsid();
    return StartupReport(std::move(to_parent));
}

void StartupReport::ready() {
    if (!to_parent_) return;
    // The paths still in use were made absolute when the options were read.
    [[maybe_unused]] const int rc = ::chdir("/");
    if (fs::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC)); null) {
        for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
            ::dup2(null.get(), fd);
    }
    write_all(to_parent_.get(), kReady);
    to_parent_.reset();
}

void StartupReport::failed(const std::string& message) {
    const std::string line = "ipsec-mountd: " + message + "\n";
    if (to_parent_) {
        write_all(to_parent_.get(), line);
        to_parent_.reset();
    } else {
        std::fputs(line.c_str(), stderr);
    }
}

}  // namespace ipsecfs::mountd
