#include "mountd/lib/live_screen.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace ipsecfs::mountd {
namespace {

// Alternate screen on, cursor hidden; and back.
constexpr std::string_view kEnter = "\x1b[?1049h\x1b[?25l";
constexpr std::string_view kLeave = "\x1b[?25h\x1b[?1049l";
constexpr std::string_view kHome = "\x1b[H";
constexpr std::string_view kClearLineEnd = "\x1b[K";
constexpr std::string_view kClearBelow = "\x1b[J";

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

Result<LiveScreen> LiveScreen::open(bool plain) {
    sigset_t mask;
    sigset_t old_mask;
    sigemptyset(&mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH})
        sigaddset(&mask, sig);
    if (::sigprocmask(SIG_BLOCK, &mask, &old_mask) != 0)
        return fail(std::string("cannot block signals: ") + std::strerror(errno));
    fs::UniqueFd fd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) {
        const int err = errno;
        ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
        return fail(std::string("cannot open a signalfd: ") + std::strerror(err));
    }
    LiveScreen screen(std::move(fd), old_mask);
    if (!plain && ::isatty(STDOUT_FILENO)) screen.take_terminal();
    return screen;
}

LiveScreen::LiveScreen(LiveScreen&& other) noexcept
    : signals_(std::move(other.signals_)),
      old_mask_(other.old_mask_),
      interactive_(std::exchange(other.interactive_, false)),
      keys_(std::exchange(other.keys_, false)),
      saved_(other.saved_),
      columns_(other.columns_),
      rows_(other.rows_) {}

LiveScreen::~LiveScreen() {
    if (!signals_) return;  // moved from
    restore();
    signals_.reset();
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

void LiveScreen::take_terminal() {
    interactive_ = true;
    if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
        termios raw = saved_;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        keys_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
    }
    write_all(STDOUT_FILENO, kEnter);
    read_size();
}

void LiveScreen::restore() {
    if (!interactive_) return;
    write_all(STDOUT_FILENO, kLeave);
    if (keys_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    interactive_ = false;
    keys_ = false;
}

void LiveScreen::read_size() {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        columns_ = ws.ws_col;
        rows_ = ws.ws_row;
    } else {
        columns_ = 80;
        rows_ = 24;
    }
}

Result<LiveScreen::Wait> LiveScreen::wait(std::chrono::steady_clock::time_point deadline, int fd) {
    using namespace std::chrono;
    for (;;) {
        pollfd fds[3] = {{signals_.get(), POLLIN, 0}, {-1, POLLIN, 0}, {fd, POLLIN | POLLPRI, 0}};
        if (keys_) fds[1].fd = STDIN_FILENO;
        const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        const int timeout = left <= 0 ? 0 : static_cast<int>(std::min<long long>(left + 1, 60'000));
        const int n = ::poll(fds, 3, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("poll: ") + std::strerror(errno));
        }
        if (fds[0].revents) {
            signalfd_siginfo info{};
            if (::read(signals_.get(), &info, sizeof(info)) == sizeof(info)) {
                if (info.ssi_signo != SIGWINCH) return Wait{.event = Event::quit};
                if (interactive_) read_size();
                return Wait{.event = Event::resize};
            }
        }
        if (fds[1].revents) {
            char key = 0;
            const ssize_t got = ::read(STDIN_FILENO, &key, 1);
            if (got == 1) return Wait{.event = Event::key, .key = key};
            // The terminal went away: no more keys to read.
            if (got == 0 || (errno != EINTR && errno != EAGAIN)) keys_ = false;
        }
        if (fds[2].revents) return Wait{.event = Event::file, .revents = fds[2].revents};
        if (n == 0 && steady_clock::now() >= deadline) return Wait{};
    }
}

bool LiveScreen::show(std::string_view frame) {
    if (!interactive_) return write_all(STDOUT_FILENO, frame);
    std::string out(kHome);
    std::size_t lines = 0;
    while (!frame.empty() && lines < rows_) {
        const std::size_t nl = frame.find('\n');
        out += frame.substr(0, std::min(nl, columns_));  // the lines are ASCII
        out += kClearLineEnd;
        frame.remove_prefix(nl == std::string_view::npos ? frame.size() : nl + 1);
        // No newline after the last row: it would scroll the first one away.
        if (++lines < rows_ && !frame.empty()) out += "\r\n";
    }
    out += kClearBelow;
    return write_all(STDOUT_FILENO, out);
}

}  // namespace ipsecfs::mountd
