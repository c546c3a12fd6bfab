#include "mountd/lib/watch_view.hpp"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/live_view_options.hpp"
#include "fs/unique_fd.hpp"
#include "mountd/lib/live_screen.hpp"
#include "mountd/lib/mount_reader.hpp"

namespace ipsecfs::mountd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kWho = "ipsec spi --watch";
// A churning SADB wakes the watcher at every commit: redraw at most this often.
constexpr auto kMinGap = std::chrono::milliseconds(100);

int error_line(const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", kWho, message.c_str());
    return 1;
}

std::string clock_text() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    char buf[32];
    ::localtime_r(&now, &local);
    std::strftime(buf, sizeof(buf), "%H:%M:%S", &local);
    return buf;
}

std::string frame(const std::string& text, const std::string& path, double interval) {
    const auto sas = std::count(text.begin(), text.end(), '\n');
    char header[512];
    std::snprintf(header, sizeof(header), "Every %.1fs: %s, %ld SAs, %s\n\n", interval,
                  path.c_str(), static_cast<long>(sas), clock_text().c_str());
    return header + text;
}

bool quits(const LiveScreen::Wait& w) {
    return w.event == LiveScreen::Event::quit ||
           (w.event == LiveScreen::Event::key && (w.key == 'q' || w.key == 'Q'));
}

// Until q, a signal, or an error (returned to be printed once the terminal is back).
Result<void> watch(LiveScreen& screen, int file, const std::string& path, double seconds) {
    const auto interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    // A filesystem without poll support reports every file readable all the time, without the
    // POLLPRI that ipsecfs adds when a file changed.
    bool poll_file = true;
    bool redraw = true;
    std::string shown;
    for (;;) {
        const auto read_at = Clock::now();
        auto text = read_from_start(file);
        if (!text) return fail("cannot read " + path + ": " + text.error());
        if (redraw || *text != shown) {
            if (!screen.show(frame(*text, path, seconds) + (screen.interactive() ? "" : "\n")))
                return {};
            shown = std::move(*text);
            redraw = false;
        }
        for (bool again = false; !again;) {
            auto woke = screen.wait(read_at + interval, poll_file ? file : -1);
            if (!woke) return std::move(woke).take_error();
            if (quits(*woke)) return {};
            switch (woke->event) {
                case LiveScreen::Event::quit:
                case LiveScreen::Event::key:
                    break;
                case LiveScreen::Event::resize:
                    redraw = again = true;
                    break;
                case LiveScreen::Event::file:
                    if (woke->revents & POLLPRI) {
                        again = true;
                        break;
                    }
                    // No poll support, or the file failed (the daemon went away): the interval
                    // paces the re-reads from now on, and a failure shows at once.
                    poll_file = false;
                    again = (woke->revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
                    break;
                case LiveScreen::Event::timeout:
                    again = true;
                    break;
            }
        }
        // Rate limit: wait out the rest of the minimum gap (keys and signals still count).
        while (Clock::now() < read_at + kMinGap) {
            auto woke = screen.wait(read_at + kMinGap, -1);
            if (!woke) return std::move(woke).take_error();
            if (quits(*woke)) return {};
        }
    }
}

}  // namespace

int run_spi_watch(std::span<const std::string> args) {
    auto options = parse_watch_options(args);
    if (!options) return error_line(options.error());
    const std::string path = mount_path(options->mount) + "/ipsec_spi";
    const fs::UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return error_line("cannot open " + path + ": " + std::strerror(errno));
    Result<void> done;
    {
        auto screen = LiveScreen::open(false);
        if (!screen) return error_line(screen.error());
        done = watch(*screen, file.get(), path, options->interval);
    }
    return done ? 0 : error_line(done.error());
}

}  // namespace ipsecfs::mountd
