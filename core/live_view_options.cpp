#include "core/live_view_options.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <sstream>
#include <vector>

namespace ipsecfs {
namespace po = boost::program_options;
namespace {

po::options_description watch_options() {
    po::options_description d("ipsec spi --watch options");
    d.add_options()("watch", "show ipsec_spi again whenever it changes")(
        "interval", po::value<double>(), "seconds between refreshes (default 2)")(
        "mount", po::value<std::string>(), "the daemon's filesystem (default /run/ipsec)");
    return d;
}

po::options_description top_options() {
    po::options_description d("ipsec top options");
    d.add_options()("interval,d", po::value<double>(), "seconds between frames (default 2)")(
        "sort", po::value<std::string>(), "bytes | packets | errors: the rate to sort by")(
        "iterations,n", po::value<std::string>(), "show N frames, then exit")(
        "batch,b", "plain frames one after another, no terminal control (as when piped)")(
        "mount", po::value<std::string>(), "the daemon's filesystem (default /run/ipsec)")(
        "help", "show this help");
    return d;
}

Result<po::variables_map> run_parser(std::span<const std::string> args,
                                     const po::options_description& d, const std::string& who) {
    po::variables_map vm;
    try {
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        const po::parsed_options parsed =
            po::command_line_parser(rest)
                .options(d)
                .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
                .run();
        for (const auto& o : parsed.options) {
            if (o.position_key >= 0 || o.string_key.empty()) {
                return fail("unexpected argument '" +
                            (o.original_tokens.empty() ? std::string() : o.original_tokens[0]) +
                            "' (see " + who + " --help)");
            }
        }
        po::store(parsed, vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return fail(std::string(e.what()) + " (see " + who + " --help)");
    }
    return vm;
}

Result<double> interval_of(const po::variables_map& vm) {
    if (!vm.count("interval")) return 2.0;
    const double s = vm["interval"].as<double>();
    if (!(s >= kMinInterval && s <= kMaxInterval)) {
        std::ostringstream out;
        out << "--interval must be " << kMinInterval << " to " << kMaxInterval << " seconds";
        return fail(out.str());
    }
    return s;
}

std::optional<std::string> mount_of(const po::variables_map& vm) {
    if (!vm.count("mount")) return std::nullopt;
    return vm["mount"].as<std::string>();
}

}  // namespace

bool is_spi_watch(std::span<const std::string> args) {
    if (args.empty() || args[0] != "spi") return false;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--watch") return true;
    }
    return false;
}

Result<WatchOptions> parse_watch_options(std::span<const std::string> args) {
    static const po::options_description d = watch_options();
    auto parsed = run_parser(args, d, "ipsec spi --watch");
    if (!parsed) {
        // Anything else belongs to ipsec spi, which shows the SAs only without it.
        const std::string& e = parsed.error();
        const std::size_t open = e.find('\'');
        const std::size_t close = open == std::string::npos ? open : e.find('\'', open + 1);
        if (e.starts_with("unrecognised option") && close != std::string::npos) {
            return fail("--watch takes only --interval and --mount, not " +
                        e.substr(open, close - open + 1));
        }
        return std::move(parsed).take_error();
    }
    WatchOptions out;
    auto interval = interval_of(*parsed);
    if (!interval) return std::move(interval).take_error();
    out.interval = *interval;
    out.mount = mount_of(*parsed);
    return out;
}

Result<TopOptions> parse_top_options(std::span<const std::string> args) {
    static const po::options_description d = top_options();
    auto parsed = run_parser(args, d, "ipsec top");
    if (!parsed) return std::move(parsed).take_error();
    const po::variables_map& vm = *parsed;
    TopOptions out;
    out.help = vm.count("help") != 0;
    auto interval = interval_of(vm);
    if (!interval) return std::move(interval).take_error();
    out.interval = *interval;
    if (vm.count("sort")) {
        const std::string s = vm["sort"].as<std::string>();
        if (s == "bytes") {
            out.sort = RateSort::bytes;
        } else if (s == "packets") {
            out.sort = RateSort::packets;
        } else if (s == "errors") {
            out.sort = RateSort::errors;
        } else {
            return fail("--sort must be bytes, packets or errors, not '" + s + "'");
        }
    }
    if (vm.count("iterations")) {
        const std::string text = vm["iterations"].as<std::string>();
        uint64_t n = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc() || end != text.data() + text.size() || n == 0)
            return fail("-n needs a number of frames, 1 or more, not '" + text + "'");
        out.iterations = n;
    }
    out.batch = vm.count("batch") != 0;
    out.mount = mount_of(vm);
    return out;
}

std::string top_usage() {
    std::ostringstream out;
    out << "usage: ipsec top [--interval S] [--sort bytes|packets|errors] [-n N] [-b] [--mount "
           "DIR]\n"
           "One line per SA with its bytes, packets and errors per second over the last "
           "interval.\n"
           "Keys: q quits; b, p, e sort by bytes, packets, errors.\n\n"
        << top_options();
    return out.str();
}

}  // namespace ipsecfs
