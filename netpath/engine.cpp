// The packet engine.
//
//   outbound lane:  ipsec0 (TUN) ──read batch──▶ eroute (longest prefix) ──▶ SA group, inner
//                   to outer: tun (IPIP) → esp (seal) ──▶ counters ──▶ sendmmsg: raw IP
//                   (protocol 50) or UDP 4500 (RFC 3948) ──▶ peer
//   inbound lane:   peer ──recvmmsg──▶ SA by (destination, SPI, protocol) ──▶ replay
//                   pre-check ──▶ ICV verify + decrypt ──▶ replay commit ──▶ next SA of the
//                   group, outer to inner (tun: outer addresses, inner policy) ──▶ counters
//                   ──▶ ipsec0 (TUN) write
//
// Two packet threads serve the two lanes (worker.cpp): under load one thread per lane, at a
// trickle one thread for both, which carries a ping's request in and its reply out without
// waking the other. A lane runs under its own mutex, and an SA is either inbound or outbound,
// so each SA's sequence counter or replay window has exactly one writer at a time; the threads
// share no lock per packet. Counters are relaxed atomics on the SA, read by the filesystem.
// Each lane keeps a SADB snapshot and re-reads it only when the SADB's generation changes, so a
// deleted SA stays valid until the lane's next batch and is freed after.

#include "netpath/engine.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <latch>
#include <string>
#include <thread>

#include "netpath/crypto/secure_key.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/outer_transport.hpp"
#include "netpath/sa_state.hpp"
#include "netpath/tun_device.hpp"
#include "netpath/unique_fd.hpp"
#include "netpath/worker.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr unsigned kDefaultOuterMtu = 1500;
// Worst case before any SA exists: IPv6 outer header, UDP, ESP with AES-CBC and HMAC-SHA2-256.
constexpr unsigned kDefaultOverhead = 40 + 8 + 8 + 16 + 15 + 2 + 16;
constexpr unsigned kMinTunMtu = 576;

class LinuxEngine final : public Engine {
  public:
    LinuxEngine(const EngineOptions& options, const Sadb& sadb, DataplaneStatus& status,
                std::function<int64_t()> now_ns, std::unique_ptr<TunDevice> tun,
                std::unique_ptr<OuterTransport> transport)
        : options_(options),
          sadb_(sadb),
          status_(status),
          now_ns_(std::move(now_ns)),
          tun_(std::move(tun)),
          transport_(std::move(transport)),
          stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

    ~LinuxEngine() override { stop(); }

    Result<void> start() {
        if (!stop_.valid()) return fail("eventfd failed");
        update_mtu(*sadb_.snapshot());
        const WorkerContext ctx{sadb_, *tun_, *transport_, status_, now_ns_, stop_.get()};
        auto lanes = Lanes::create(ctx);
        if (!lanes) return std::move(lanes).take_error();
        lanes_ = std::move(*lanes);
        // nice is per thread on Linux: each packet thread sets its own before it handles a packet.
        std::atomic<int> refused{0};
        std::atomic<int> refused_batch{0};
        std::latch started{Lanes::kThreads};
        for (unsigned i = 0; i < Lanes::kThreads; ++i) {
            threads_[i] = std::thread([this, i, &refused, &refused_batch, &started] {
                // Named so that top -H, ps -L and perf show them.
                const std::string name = "ipsec-packet" + std::to_string(i + 1);
                ::pthread_setname_np(::pthread_self(), name.c_str());
                if (::setpriority(PRIO_PROCESS, 0, options_.worker_nice) != 0) refused = errno;
                // For SCHED_BATCH the thread's nice still sets its share (sched(7)).
                const sched_param normal{};
                if (options_.worker_batch && ::sched_setscheduler(0, SCHED_BATCH, &normal) != 0) {
                    refused_batch = errno;
                }
                started.count_down();
                lanes_->serve(i);
            });
        }
        started.wait();
        if (refused != 0) {
            warning_ = "cannot give the packet workers nice " +
                       std::to_string(options_.worker_nice) + ": " + std::strerror(refused) +
                       " (they run at the daemon's)";
        }
        if (refused_batch != 0) {
            if (!warning_.empty()) warning_ += "; ";
            warning_ += std::string("cannot make the packet workers SCHED_BATCH: ") +
                        std::strerror(refused_batch) + " (they stay SCHED_OTHER)";
        }
        return {};
    }

    void on_commit(const SadbSnapshot& after) override { update_mtu(after); }

    std::string start_warning() const override { return warning_; }

    void stop() override {
        if (stop_.valid()) {
            const uint64_t one = 1;
            [[maybe_unused]] auto n = ::write(stop_.get(), &one, sizeof(one));
        }
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

  private:
    // The TUN MTU leaves room for the largest outbound group's overhead, so TCP segments fit
    // in one outer packet and nothing is fragmented.
    void update_mtu(const SadbSnapshot& snap) {
        unsigned worst = 0;
        bool any = false;
        const auto chain_overhead = [](const std::vector<SaPtr>& members) {
            unsigned sum = 0;
            for (const auto& m : members) {
                if (const SaState* st = state_of(*m)) {
                    sum += static_cast<unsigned>(st->overhead(m->config().outer_dst().family()));
                }
            }
            return sum;
        };
        for (const auto& g : snap.groups()) {
            if (g->complete() && g->members.front()->config().dir == Direction::out) {
                worst = std::max(worst, chain_overhead(g->members));
                any = true;
            }
        }
        for (const auto& [said, sa] : snap.sas()) {
            if (sa->config().dir == Direction::out && !snap.group_of(said)) {
                worst = std::max(worst, chain_overhead({sa}));
                any = true;
            }
        }
        if (!any) worst = kDefaultOverhead;
        unsigned outer = options_.outer_dev.empty() ? 0 : device_mtu(options_.outer_dev);
        if (outer == 0) outer = kDefaultOuterMtu;
        const unsigned mtu = std::max(kMinTunMtu, outer > worst ? outer - worst : kMinTunMtu);
        if (mtu != current_mtu_ && tun_->set_mtu(mtu)) current_mtu_ = mtu;
        status_.set_tunnel(
            TunnelStatus{tun_->name(), options_.outer_dev, current_mtu_, current_mtu_, outer});
    }

    EngineOptions options_;
    const Sadb& sadb_;
    DataplaneStatus& status_;
    std::function<int64_t()> now_ns_;
    std::unique_ptr<TunDevice> tun_;
    std::unique_ptr<OuterTransport> transport_;
    UniqueFd stop_;
    std::unique_ptr<Lanes> lanes_;
    std::array<std::thread, Lanes::kThreads> threads_;
    std::string warning_;
    unsigned current_mtu_ = 0;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::start(const EngineOptions& options, const Sadb& sadb,
                                              DataplaneStatus& status,
                                              std::function<int64_t()> now_ns) {
    if (!crypto::init()) return fail("libsodium initialisation failed");
    auto tun = open_linux_tun(options.tun_name, status);
    if (!tun) return std::move(tun).take_error();
    auto transport = open_linux_transport({options.outer_dev, options.natt_port}, status);
    if (!transport) return std::move(transport).take_error();
    return start_with(options, sadb, status, std::move(now_ns), std::move(*tun),
                      std::move(*transport));
}

Result<std::unique_ptr<Engine>> Engine::start_with(const EngineOptions& options, const Sadb& sadb,
                                                   DataplaneStatus& status,
                                                   std::function<int64_t()> now_ns,
                                                   std::unique_ptr<TunDevice> tun,
                                                   std::unique_ptr<OuterTransport> transport) {
    auto engine = std::make_unique<LinuxEngine>(options, sadb, status, std::move(now_ns),
                                                std::move(tun), std::move(transport));
    if (auto r = engine->start(); !r) return std::move(r).take_error();
    return std::unique_ptr<Engine>(std::move(engine));
}

namespace {

Result<std::unique_ptr<SaRuntime>> make_sa_state(const Sa& sa, bool reserve_sequence) {
    if (!crypto::init()) return fail("libsodium initialisation failed");
    auto st = SaState::create(sa, reserve_sequence);
    if (!st) return std::move(st).take_error();
    return std::unique_ptr<SaRuntime>(std::move(*st));
}

}  // namespace

Result<std::unique_ptr<SaRuntime>> Engine::make_runtime(const Sa& sa) {
    return make_sa_state(sa, false);
}

Result<std::unique_ptr<SaRuntime>> Engine::make_reserved_runtime(const Sa& sa) {
    return make_sa_state(sa, true);
}

}  // namespace ipsecfs::netpath
