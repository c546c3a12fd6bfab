#include "mountd/lib/cli.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <vector>

#include "core/command.hpp"
#include "core/live_view_options.hpp"
#include "ipsecfs_version.hpp"
#include "mountd/lib/batch.hpp"
#include "mountd/lib/control_client.hpp"
#include "mountd/lib/top_view.hpp"
#include "mountd/lib/watch_view.hpp"

namespace ipsecfs::mountd {
namespace {

struct CliArgs {
    std::string control;
    std::optional<std::string> batch;
    bool help = false;
    bool version = false;
    std::vector<std::string> command;  // the command name and its own options
};

int error_line(const std::string& who, const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", who.c_str(), message.c_str());
    return 1;
}

int print(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
        return error_line("ipsec", std::string("cannot write output: ") + std::strerror(errno));
    return 0;
}

// Options before the command name belong to ipsec itself; the rest to the command.
std::optional<CliArgs> parse_global(std::span<const std::string> args) {
    CliArgs out;
    const char* env = std::getenv("IPSEC_CONTROL");
    out.control = env && *env ? env : kDefaultControlPath;
    std::size_t i = 0;
    for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
        const std::string& arg = args[i];
        const std::size_t eq = arg.find('=');
        const std::string name = arg.substr(0, eq);
        if (name == "--control" || name == "--batch") {
            std::string value;
            if (eq != std::string::npos) {
                value = arg.substr(eq + 1);
            } else if (i + 1 < args.size()) {
                value = args[++i];
            }
            if (value.empty()) {
                error_line("ipsec", name + " needs a value");
                return std::nullopt;
            }
            (name == "--control" ? out.control : out.batch.emplace()) = value;
        } else if (arg == "--help" || arg == "-h") {
            out.help = true;
        } else if (arg == "--version") {
            out.version = true;
        } else {
            error_line("ipsec", "unknown option '" + arg + "' (see ipsec --help)");
            return std::nullopt;
        }
    }
    out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    return out;
}

int show_version(const std::string& control) {
    if (int rc = print("ipsec (ipsecfs) " IPSECFS_VERSION "\n"); rc != 0) return rc;
    // The daemon's own version, when one is running.
    auto response = call_daemon(control, Request{RequestKind::command, {{0, {"version"}}}});
    if (!response) return 0;
    if (response->status != ResponseStatus::ok) return error_line("ipsec version", response->text);
    return print(response->text);
}

int run_batch(const std::string& control, const std::string& file) {
    const std::string who = "ipsec --batch " + file;
    std::ifstream opened;
    if (file != "-") {
        opened.open(file);
        if (!opened) return error_line(who, std::strerror(errno));
    }
    auto lines = read_batch(file == "-" ? std::cin : opened);
    if (!lines) return error_line(who, lines.error());
    for (const CommandLine& line : *lines) {
        if (auto command = parse_batch_line(line); !command)
            return error_line(who, command.error());
    }
    auto response = call_daemon(control, Request{RequestKind::batch, std::move(*lines)});
    if (!response) return error_line(who, response.error());
    if (response->status != ResponseStatus::ok) return error_line(who, response->text);
    return print(response->text);
}

// Copies the event stream to stdout, line by line as it comes, until the daemon closes it.
int run_monitor(const std::string& control) {
    auto stream = open_monitor(control);
    if (!stream) return error_line("ipsec monitor", stream.error());
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(stream->get(), buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return error_line("ipsec monitor", std::strerror(errno));
        }
        if (std::fwrite(buf, 1, static_cast<std::size_t>(n), stdout) !=
                static_cast<std::size_t>(n) ||
            std::fflush(stdout) != 0)
            return 0;  // the reader went away (e.g. `ipsec monitor | head -1`)
    }
}

int run_command(const std::string& control, std::vector<std::string> argv) {
    const std::string who = "ipsec " + argv.front();
    // The live views read the mount; the daemon never sees them.
    if (argv.front() == "top") return run_top(argv);
    for (std::size_t i = 1; i < argv.size(); ++i) {
        if (argv[i] == "--help") return print(command_usage(argv.front()));
    }
    if (is_spi_watch(argv)) return run_spi_watch(argv);
    auto command = parse_command(argv);
    if (!command) return error_line(who, command.error());
    if (std::holds_alternative<Version>(*command)) return show_version(control);
    if (std::holds_alternative<Monitor>(*command)) return run_monitor(control);
    auto response = call_daemon(control, Request{RequestKind::command, {{0, std::move(argv)}}});
    if (!response) return error_line(who, response.error());
    if (response->status != ResponseStatus::ok) return error_line(who, response->text);
    return print(response->text);
}

}  // namespace

int run_cli(std::span<const std::string> args) {
    auto parsed = parse_global(args);
    if (!parsed) return 1;
    if (parsed->help) return print(command_usage(""));
    if (parsed->version) return show_version(parsed->control);
    if (parsed->batch) {
        if (!parsed->command.empty())
            return error_line("ipsec",
                              "--batch takes no command ('" + parsed->command.front() + "' given)");
        return run_batch(parsed->control, *parsed->batch);
    }
    if (parsed->command.empty()) {
        std::fputs(command_usage("").c_str(), stderr);
        return 1;
    }
    return run_command(parsed->control, std::move(parsed->command));
}

}  // namespace ipsecfs::mountd
