#include "mountd/lib/daemon.hpp"

#include <grp.h>
#include <sys/resource.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "mountd/lib/capabilities.hpp"
#include "mountd/lib/startup_file.hpp"
#include "netpath/sa_state.hpp"

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
    m.busy_request_rate = options.fs_busy_rate;
    if (!options.read_group.empty()) {
        auto gid = group_id(options.read_group);
        if (!gid) return std::move(gid).take_error();
        m.read_group = *gid;
    }
    return m;
}

void log_line(const std::string& line) {
    std::fprintf(stderr, "ipsec-mountd: %s\n", line.c_str());
}

StateKeeper::Environment state_environment(const DataplaneStatus& status) {
    StateKeeper::Environment env;
    env.now_ns = realtime_ns;
    env.reservation_of = [](const Sa& sa) -> SequenceReservation* {
        netpath::SaState* st = netpath::state_of(sa);
        return st ? st->reservation() : nullptr;
    };
    env.activity = [&status] {
        uint64_t sum = status.packets_out.get() + status.packets_in.get() + status.esp_out.get() +
                       status.esp_in.get();
        for (const Counter& c : status.drops)
            sum += c.get();
        return sum;
    };
    env.log = log_line;
    return env;
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonOptions& options) {
    ShutdownSignals::block();
    auto mount_opts = mount_options(options);
    if (!mount_opts) return std::move(mount_opts).take_error();
    auto startup = read_startup_file(options.startup);
    if (!startup) return std::move(startup).take_error();
    auto listener = ControlListener::open(options.control);
    if (!listener) return std::move(listener).take_error();
    if (auto r = fs::recover_stale_mount(options.mount); !r) return std::move(r).take_error();

    std::unique_ptr<Daemon> d(new Daemon(options));
    Sadb::Environment env;
    env.is_local = netpath::is_local_address;
    env.now_ns = realtime_ns;
    if (options.packet_engine()) env.make_runtime = netpath::Engine::make_reserved_runtime;
    env.default_replay_window = options.replay_window;
    // Commits come from the control thread, which starts after fs_ and engine_ are set.
    env.on_commit = [self = d.get()](const SadbSnapshot& before, const SadbSnapshot& after) {
        if (self->fs_) self->fs_->on_commit(before, after);
        if (self->engine_) self->engine_->on_commit(after);
        if (self->state_) self->state_->on_commit();
    };
    d->sadb_ = std::make_unique<Sadb>(std::move(env));
    // Before the engine starts: restored SAs come back with their sequence numbers reserved.
    auto state = StateKeeper::open({options.state, options.discard_state}, *d->sadb_,
                                   state_environment(d->status_));
    if (!state) return std::move(state).take_error();
    d->state_ = std::move(*state);

    if (options.packet_engine()) {
        if (auto r = d->start_engine(); !r) return std::move(r).take_error();
    }
    if (auto r = d->mount(*mount_opts); !r) return std::move(r).take_error();

    d->service_ = std::make_unique<ControlService>(*d->sadb_, d->status_, realtime_ns);
    auto applied = apply_startup_file(*startup, *d->sadb_, *d->service_);
    if (!applied) return std::move(applied).take_error();
    for (const std::string& note : *applied)
        std::fprintf(stderr, "ipsec-mountd: %s\n", note.c_str());
    auto server = ControlServer::start(
        std::move(*listener),
        [service = d->service_.get()](const Request& request) { return service->handle(request); },
        [monitors = &d->monitors_](fs::UniqueFd client) { monitors->add(std::move(client)); });
    if (!server) return std::move(server).take_error();
    d->server_ = std::move(*server);
    d->start_lifetime_watcher();
    d->state_->start();
    auto signals = ShutdownSignals::start([fs = d->fs_.get()] { fs->exit(); });
    if (!signals) return std::move(signals).take_error();
    d->signals_ = std::move(*signals);
    if (auto r = drop_privileges(runtime_capabilities(options.packet_engine())); !r)
        return std::move(r).take_error();
    return d;
}

Result<void> Daemon::start_engine() {
    netpath::EngineOptions engine_options;
    engine_options.tun_name = options_.tun;
    engine_options.outer_dev = options_.outer_dev;
    engine_options.workers = options_.workers;
    engine_options.worker_nice = options_.worker_nice;
    engine_options.worker_batch = options_.worker_policy == "batch";
    auto engine = netpath::Engine::start(engine_options, *sadb_, status_, realtime_ns);
    if (!engine) return std::move(engine).take_error();
    engine_ = std::move(*engine);
    if (const std::string w = engine_->start_warning(); !w.empty()) log_line(w);
    return {};
}

void Daemon::start_lifetime_watcher() {
    if (!options_.on_expire.empty()) {
        expire_hook_ = std::make_unique<ExpireHook>(
            options_.on_expire, std::chrono::seconds(options_.on_expire_timeout));
    }
    LifetimeWatcher::Options watch;
    watch.seq_soft_headroom = options_.seq_headroom;
    watcher_ = std::make_unique<LifetimeWatcher>(
        *sadb_, realtime_ns,
        [this](const LifeEvent& e) {
            const std::string line = format_life_event(e);
            std::fprintf(stderr, "ipsec-mountd: lifetime: %s\n", line.c_str());
            monitors_.publish(line);
            if (expire_hook_) expire_hook_->post(e);
        },
        watch);
    watcher_->start();
}

Result<void> Daemon::mount(const fs::MountOptions& mount_options) {
    auto mounted = fs::IpsecFs::mount(mount_options, *sadb_, status_, realtime_ns);
    if (!mounted) return std::move(mounted).take_error();
    fs_ = std::move(*mounted);
    return {};
}

Daemon::~Daemon() {
    watcher_.reset();
    expire_hook_.reset();
    signals_.reset();
    server_.reset();  // no more commits; the socket file goes away
    fs_.reset();      // unmounts
    if (engine_) engine_->stop();
    if (state_) {
        if (auto r = state_->stop(); !r) log_line(r.error());
    }
}

int Daemon::run() {
    // The filesystem loop and the threads it starts answer reads of the mount (nice is per
    // thread on Linux, inherited by the threads a thread creates).
    if (::setpriority(PRIO_PROCESS, 0, options_.fs_nice) != 0) {
        log_line("cannot give the filesystem threads nice " + std::to_string(options_.fs_nice) +
                 ": " + std::strerror(errno));
    }
    const int status = fs_->run();
    if (status != 0)
        std::fprintf(stderr, "ipsec-mountd: filesystem loop ended with status %d\n", status);
    return status == 0 ? 0 : 1;
}

}  // namespace ipsecfs::mountd
