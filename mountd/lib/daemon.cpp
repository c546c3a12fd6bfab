#include "mountd/lib/daemon.hpp"

#include <grp.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace ipsecfs::mountd {
namespace {

int64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A group name, or a number.
Result<gid_t> group_id(const std::string& name) {
    gid_t gid = 0;
    if (auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), gid);
        ec == std::errc() && end == name.data() + name.size())
        return gid;
    std::vector<char> buf(16384);
    group entry{};
    group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found)
        return fail("--read-group: no group named '" + name + "'");
    return found->gr_gid;
}

// Everything the filesystem needs to know, checked before anything is started.
Result<fs::MountOptions> mount_options(const DaemonOptions& options) {
    fs::MountOptions m;
    m.mountpoint = options.mount;
    if (!options.read_group.empty()) {
        auto gid = group_id(options.read_group);
        if (!gid) return std::move(gid).take_error();
        m.read_group = *gid;
    }
    return m;
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonOptions& options) {
    ShutdownSignals::block();
    auto mount_opts = mount_options(options);
    if (!mount_opts) return std::move(mount_opts).take_error();
    auto listener = ControlListener::open(options.control);
    if (!listener) return std::move(listener).take_error();
    if (auto r = fs::recover_stale_mount(options.mount); !r) return std::move(r).take_error();

    std::unique_ptr<Daemon> d(new Daemon(options));
    Sadb::Environment env;
    env.is_local = netpath::is_local_address;
    env.now_ns = realtime_ns;
    if (options.packet_engine()) env.make_runtime = netpath::Engine::make_runtime;
    env.default_replay_window = options.replay_window;
    // Commits come from the control thread, which starts after fs_ and engine_ are set.
    env.on_commit = [self = d.get()](const SadbSnapshot& before, const SadbSnapshot& after) {
        if (self->fs_) self->fs_->on_commit(before, after);
        if (self->engine_) self->engine_->on_commit(after);
    };
    d->sadb_ = std::make_unique<Sadb>(std::move(env));

    if (options.packet_engine()) {
        if (auto r = d->start_engine(); !r) return std::move(r).take_error();
    }
    if (auto r = d->mount(*mount_opts); !r) return std::move(r).take_error();

    d->service_ = std::make_unique<ControlService>(*d->sadb_, d->status_, realtime_ns);
    auto server = ControlServer::start(
        std::move(*listener),
        [service = d->service_.get()](const Request& request) { return service->handle(request); });
    if (!server) return std::move(server).take_error();
    d->server_ = std::move(*server);
    auto signals = ShutdownSignals::start([fs = d->fs_.get()] { fs->exit(); });
    if (!signals) return std::move(signals).take_error();
    d->signals_ = std::move(*signals);
    return d;
}

Result<void> Daemon::start_engine() {
    netpath::EngineOptions engine_options;
    engine_options.tun_name = options_.tun;
    engine_options.outer_dev = options_.outer_dev;
    engine_options.workers = options_.workers;
    auto engine = netpath::Engine::start(engine_options, *sadb_, status_, realtime_ns);
    if (!engine) return std::move(engine).take_error();
    engine_ = std::move(*engine);
    return {};
}

Result<void> Daemon::mount(const fs::MountOptions& mount_options) {
    auto mounted = fs::IpsecFs::mount(mount_options, *sadb_, status_, realtime_ns);
    if (!mounted) return std::move(mounted).take_error();
    fs_ = std::move(*mounted);
    return {};
}

Daemon::~Daemon() {
    signals_.reset();
    server_.reset();  // no more commits; the socket file goes away
    fs_.reset();      // unmounts
    if (engine_) engine_->stop();
}

int Daemon::run() {
    const int status = fs_->run();
    if (status != 0)
        std::fprintf(stderr, "ipsec-mountd: filesystem loop ended with status %d\n", status);
    return status == 0 ? 0 : 1;
}

}  // namespace ipsecfs::mountd
