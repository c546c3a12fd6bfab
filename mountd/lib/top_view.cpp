#include "mountd/lib/top_view.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "core/live_view_options.hpp"
#include "core/sa_rates.hpp"
#include "core/spi_samples.hpp"
#include "core/top_frame.hpp"
#include "fs/unique_fd.hpp"
#include "mountd/lib/live_screen.hpp"
#include "mountd/lib/mount_reader.hpp"

namespace ipsecfs::mountd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kWho = "ipsec top";

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

// One read of ipsec_spi, reopened each time so that a restarted daemon's new mount is seen.
struct Reading {
    Clock::time_point at;
    std::vector<SaSample> samples;
};

Result<Reading> read_samples(const std::string& path) {
    const fs::UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return fail("cannot open " + path + ": " + std::strerror(errno));
    auto text = read_from_start(file.get());
    if (!text) return fail("cannot read " + path + ": " + text.error());
    return Reading{Clock::now(), parse_spi_samples(*text)};
}

bool sort_key(char key, RateSort& sort) {
    switch (key) {
        case 'b':
            sort = RateSort::bytes;
            return true;
        case 'p':
            sort = RateSort::packets;
            return true;
        case 'e':
            sort = RateSort::errors;
            return true;
        default:
            return false;
    }
}

// Frames until q, a signal, -n, or an error (returned to be printed once the terminal is back).
Result<void> top(LiveScreen& screen, const TopOptions& options, const std::string& path,
                 Reading previous) {
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.interval));
    TopLayout layout;
    layout.interval = options.interval;
    layout.sort = options.sort;
    std::vector<SaRate> rates = unmeasured(previous.samples);
    const auto draw = [&] {
        layout.clock = clock_text();
        layout.width = screen.columns();
        layout.height = screen.rows();
        sort_rates(rates, layout.sort);
        std::string text = format_top_frame(rates, layout);
        if (!screen.interactive()) text += '\n';
        return screen.show(text);
    };
    // On a terminal the SAs show at once; their rates need a second read.
    if (screen.interactive() && !draw()) return {};

    uint64_t frames = 0;
    auto next = previous.at + interval;
    for (;;) {
        auto woke = screen.wait(next, -1);
        if (!woke) return std::move(woke).take_error();
        switch (woke->event) {
            case LiveScreen::Event::quit:
                return {};
            case LiveScreen::Event::key:
                if (woke->key == 'q' || woke->key == 'Q') return {};
                if (sort_key(woke->key, layout.sort) && !draw()) return {};
                continue;
            case LiveScreen::Event::resize:
                if (!draw()) return {};
                continue;
            case LiveScreen::Event::file:
            case LiveScreen::Event::timeout:
                break;
        }
        auto current = read_samples(path);
        if (!current) return std::move(current).take_error();
        const double seconds = std::chrono::duration<double>(current->at - previous.at).count();
        rates = compute_rates(previous.samples, current->samples, seconds);
        if (!draw()) return {};
        previous = std::move(*current);
        if (options.iterations && ++frames >= *options.iterations) return {};
        // Keep the beat even when a frame took long: never wait less than half an interval.
        next = std::max(next + interval, previous.at + interval / 2);
    }
}

}  // namespace

int run_top(std::span<const std::string> args) {
    auto options = parse_top_options(args);
    if (!options) return error_line(options.error());
    if (options->help) {
        std::fputs(top_usage().c_str(), stdout);
        return 0;
    }
    const std::string path = mount_path(options->mount) + "/ipsec_spi";
    auto first = read_samples(path);
    if (!first) return error_line(first.error());
    Result<void> done;
    {
        auto screen = LiveScreen::open(options->batch);
        if (!screen) return error_line(screen.error());
        done = top(*screen, *options, path, std::move(*first));
    }
    return done ? 0 : error_line(done.error());
}

}  // namespace ipsecfs::mountd
