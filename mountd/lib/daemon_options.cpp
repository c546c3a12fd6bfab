#include "mountd/lib/daemon_options.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ipsecfs::mountd {
namespace po = boost::program_options;
namespace {

// The options a config file may set too: all but --config, --help and --version.
po::options_description settings(DaemonOptions& o) {
    po::options_description d("Options (each also settable in the --config file as name = value)");
    d.add_options()  //
        ("mount", po::value(&o.mount)->default_value(o.mount)->value_name("DIR"),
         "mount point of the filesystem")  //
        ("control", po::value(&o.control)->default_value(o.control)->value_name("SOCKET"),
         "control socket path")  //
        ("tun", po::value(&o.tun)->default_value(o.tun)->value_name("NAME"),
         "TUN device of the packet engine; `none` runs without one")  //
        ("outer-dev", po::value(&o.outer_dev)->value_name("DEV"),
         "bind the outer (ESP/AH/IPCOMP) sockets to this device")                                 //
        ("state", po::value(&o.state)->default_value(o.state)->value_name("FILE"), "state file")  //
        ("startup", po::value(&o.startup)->value_name("FILE"),
         "apply the `ipsec --batch` lines of FILE in one transaction before reporting ready; "
         "-FILE: only if FILE exists")  //
        ("read-group", po::value(&o.read_group)->value_name("GROUP"),
         "group that may read the mount besides root")                                  //
        ("foreground", po::bool_switch(&o.foreground), "do not detach; log to stderr")  //
        ("workers", po::value(&o.workers)->default_value(o.workers)->value_name("N"),
         "packet worker threads")  //
        ("worker-nice", po::value(&o.worker_nice)->default_value(o.worker_nice)->value_name("N"),
         "nice value of the packet worker threads, -20..19")  //
        ("worker-policy",
         po::value(&o.worker_policy)->default_value(o.worker_policy)->value_name("batch|other"),
         "scheduling policy of the packet worker threads: SCHED_BATCH or SCHED_OTHER")  //
        ("fs-nice", po::value(&o.fs_nice)->default_value(o.fs_nice)->value_name("N"),
         "nice value of the threads that answer reads of the mount, -20..19")  //
        ("fs-busy-rate", po::value(&o.fs_busy_rate)->default_value(o.fs_busy_rate)->value_name("N"),
         "while packets flow, answer at most N requests a second on the mount (0: no limit)")  //
        ("replay-window",
         po::value(&o.replay_window)->default_value(o.replay_window)->value_name("N"),
         "default replay window of inbound AH/ESP SAs, 1..4096")  //
        ("on-expire", po::value(&o.on_expire)->value_name("CMD"),
         "run `sh -c CMD` on every soft or hard lifetime event (facts in IPSEC_* variables)")  //
        ("on-expire-timeout",
         po::value(&o.on_expire_timeout)->default_value(o.on_expire_timeout)->value_name("S"),
         "kill an --on-expire command after S seconds")  //
        ("seq-headroom", po::value(&o.seq_headroom)->default_value(o.seq_headroom)->value_name("N"),
         "soft lifetime event when an outbound SA has N sequence numbers left (0: none)");
    return d;
}

Result<void> check(const DaemonOptions& o) {
    if (o.workers != 1) {
        return fail(
            "--workers: only 1 is supported so far (the engine runs two packet threads, one per "
            "direction under load)");
    }
    if (o.worker_nice < -20 || o.worker_nice > 19) return fail("--worker-nice must be -20..19");
    if (o.fs_nice < -20 || o.fs_nice > 19) return fail("--fs-nice must be -20..19");
    if (o.fs_busy_rate > 1'000'000) return fail("--fs-busy-rate must be 0..1000000");
    if (o.worker_policy != "batch" && o.worker_policy != "other")
        return fail("--worker-policy must be batch or other");
    if (o.replay_window < 1 || o.replay_window > kMaxReplayWindow)
        return fail("--replay-window must be 1.." + std::to_string(kMaxReplayWindow));
    if (o.on_expire_timeout < 1) return fail("--on-expire-timeout must be at least 1 second");
    if (o.startup == "-") return fail("--startup must name a file");
    if (o.mount.empty()) return fail("--mount must name a directory");
    if (o.control.empty()) return fail("--control must name a socket path");
    if (o.tun.empty()) return fail("--tun must name a device or be `none`");
    return {};
}

}  // namespace

Result<DaemonCommandLine> parse_daemon_options(int argc, const char* const* argv) {
    DaemonCommandLine result;
    auto file_options = settings(result.options);
    po::options_description only_cli("Command line only");
    only_cli.add_options()                                                                  //
        ("config", po::value<std::string>()->value_name("FILE"), "read options from FILE")  //
        ("discard-state", po::bool_switch(&result.options.discard_state),
         "start with no SAs when the state file is damaged (it is moved aside as FILE.bad-TIME)")  //
        ("help,h", "show this help and exit")  //
        ("version", "show the version and exit");
    po::options_description all;
    all.add(only_cli).add(file_options);

    const po::positional_options_description no_operands;
    try {
        po::variables_map vm;
        po::store(
            po::command_line_parser(argc, argv)
                .options(all)
                .positional(no_operands)
                .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
                .run(),
            vm);
        if (vm.count("help")) {
            std::ostringstream text;
            text << "usage: ipsec-mountd [options]\n"
                    "Serves the SA database as a read-only filesystem and carries IPsec traffic.\n"
                 << all;
            result.action = DaemonCommandLine::Action::help;
            result.help = text.str();
            return result;
        }
        if (vm.count("version")) {
            result.action = DaemonCommandLine::Action::version;
            return result;
        }
        if (vm.count("config")) {
            const std::string path = vm["config"].as<std::string>();
            std::ifstream in(path);
            if (!in) return fail("cannot read config file " + path);
            try {
                po::store(po::parse_config_file(in, file_options), vm);
            } catch (const po::error& e) {
                return fail("config file " + path + ": " + e.what());
            }
        }
        po::notify(vm);
    } catch (const po::error& e) {
        return fail(std::string(e.what()) + " (see ipsec-mountd --help)");
    }
    if (auto r = check(result.options); !r) return std::move(r).take_error();
    // The daemon leaves its working directory once started; later uses of a path must not
    // depend on it.
    for (std::string* path :
         {&result.options.mount, &result.options.control, &result.options.state})
        *path = std::filesystem::absolute(*path).string();
    return result;
}

}  // namespace ipsecfs::mountd
