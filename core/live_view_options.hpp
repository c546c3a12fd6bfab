#pragma once
// The options of the live views, which read the mount and never go to the daemon:
//   ipsec spi --watch [--interval S] [--mount DIR]
//   ipsec top [--interval|-d S] [--sort bytes|packets|errors] [-n N] [-b] [--mount DIR]
// Parsed with Boost.Program_options like the commands in command.hpp; errors are one line.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/result.hpp"

namespace ipsecfs {

inline constexpr double kMinInterval = 0.1;
inline constexpr double kMaxInterval = 3600.0;

struct WatchOptions {
    double interval = 2.0;  // seconds between re-reads when nothing wakes the watcher earlier
    std::optional<std::string> mount;  // the caller's default when not given
};

enum class RateSort { bytes, packets, errors };

struct TopOptions {
    double interval = 2.0;
    RateSort sort = RateSort::bytes;
    std::optional<uint64_t> iterations;  // -n: frames to show before exiting
    bool batch = false;                  // -b: frames as plain text, no terminal control
    std::optional<std::string> mount;
    bool help = false;
};

// Is this `ipsec spi … --watch`? args[0] is the command name.
bool is_spi_watch(std::span<const std::string> args);
// args[0] is "spi"; only --watch, --interval and --mount may follow.
Result<WatchOptions> parse_watch_options(std::span<const std::string> args);
// args[0] is "top".
Result<TopOptions> parse_top_options(std::span<const std::string> args);

std::string top_usage();

}  // namespace ipsecfs
