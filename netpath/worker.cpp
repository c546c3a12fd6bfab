#include "netpath/worker.hpp"

// Two lanes, two packet threads. Each thread waits on its own epoll set, which holds the
// sources of the lanes it is home to; a lane is in exactly one set, and a thread runs a turn
// of a lane (read, transform, write, until the source is drained) holding the lane's mutex,
// so each SA's sequence counter or replay window (an SA has one direction) has one writer at
// a time.
//
// Where the lanes live follows the load:
// - At a trickle both lanes live in one thread (merged). A reply is made by the kernel during
//   our own write: writing a decrypted ping into the TUN runs the ICMP echo inside that
//   write() and queues the reply before write() returns (a TCP segment queues its ACK the same
//   way). The thread that wrote it finds it at its next epoll_wait without sleeping, and every
//   hop of a ping wakes the same thread, which the scheduler tends to keep on the CPU the
//   exchange runs on. A second thread would be woken on the other vCPU, and a halted vCPU
//   takes ~0.1 ms to wake on a VM: that is most of a tunnel's added round-trip time.
// - Under load each lane gets its own thread (split), and the two pipeline on two CPUs. A
//   heavy turn (kHeavyTurn packets or more: one TCP super-packet is ~45) splits the lanes at
//   once; they merge again when neither lane has had one for kCalm. Merging any sooner lets a
//   TCP stream that slows for a moment (other processes taking the CPU) fall into one thread,
//   which slows it further.
// Moving a lane is two epoll_ctl() calls under both lanes' mutexes (the second only tried, so
// no order can deadlock; a lane mid-turn stays where it is); a thread woken for a lane that
// has just moved away sees it is no longer the lane's home and leaves it.

#include <sched.h>
#include <sys/epoll.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "netpath/ip_header.hpp"
#include "netpath/processor.hpp"
#include "netpath/unique_fd.hpp"

namespace ipsecfs::netpath {
namespace {

// Keeps a snapshot until the SADB's generation moves: one atomic load per batch.
class SnapshotCache {
  public:
    explicit SnapshotCache(const Sadb& sadb) : sadb_(sadb) {}
    const SadbSnapshot& get() {
        const uint64_t gen = sadb_.generation();
        if (!snap_ || gen != gen_) {
            snap_ = sadb_.snapshot();
            gen_ = snap_->generation();
        }
        return *snap_;
    }

  private:
    const Sadb& sadb_;
    SadbSnapshotPtr snap_;
    uint64_t gen_ = 0;
};

enum class Way : uint32_t { outbound, inbound };
constexpr uint32_t kStopToken = 2;
// The load measure (see the top of this file).
constexpr std::size_t kHeavyTurn = kBatchSize / 2;
constexpr int64_t kCalm = 20'000'000;  // ns
// Back to epoll_wait now and then, where the stop event and the other lane are seen.
constexpr unsigned kBatchesPerTurn = 64;

// A lane: what its turn uses (the buffers of one batch, a processor with its IPCOMP streams, a
// SADB snapshot) and where it lives. All of it is guarded by `turn`.
struct Lane {
    Lane(Way w, int fd, const WorkerContext& ctx)
        : way(w), source_fd(fd), pool(kBatchSize), processor(ctx.status), snapshots(ctx.sadb) {
        out.reserve(kBatchSize);
    }
    const Way way;
    const int source_fd;
    std::mutex turn;
    unsigned home = 0;       // the thread whose epoll set holds source_fd
    int64_t last_heavy = 0;  // when its last heavy turn ended (CLOCK_MONOTONIC ns)
    PacketPool pool;
    std::vector<Packet*> out;
    Processor processor;
    SnapshotCache snapshots;
};

class EpollLanes final : public Lanes {
  public:
    explicit EpollLanes(const WorkerContext& ctx)
        : ctx_(ctx),
          lanes_{{{Way::outbound, ctx.tun.poll_fd(), ctx},
                  {Way::inbound, ctx.transport.poll_fd(), ctx}}} {}

    // Both lanes start merged in thread 0.
    Result<void> arm() {
        for (auto& set : sets_) {
            set = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
            if (!set.valid()) return fail("epoll_create1 failed");
            epoll_event stop{EPOLLIN, {.u32 = kStopToken}};
            if (::epoll_ctl(set.get(), EPOLL_CTL_ADD, ctx_.stop_fd, &stop) != 0) {
                return fail("epoll_ctl: cannot watch the stop event");
            }
        }
        for (Lane& lane : lanes_) {
            if (!watch(lane, 0)) return fail("epoll_ctl: cannot watch a packet source");
        }
        return {};
    }

    void serve(unsigned me) override {
        std::array<epoll_event, 3> events;
        for (;;) {
            const int n = ::epoll_wait(sets_[me].get(), events.data(), events.size(), -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) std::abort();  // EBADF/EFAULT/EINVAL: the set is ours and valid
            for (int i = 0; i < n; ++i) {
                if (events[i].data.u32 == kStopToken) return;
                Lane& lane = lanes_[events[i].data.u32];
                std::unique_lock hold(lane.turn);
                if (lane.home != me) continue;  // moved to the other thread meanwhile
                const bool heavy = drain(lane) >= kHeavyTurn;
                const int64_t now = monotonic_ns();
                if (heavy) lane.last_heavy = now;
                rebalance(me, lane, heavy, now);
            }
        }
    }

    std::array<unsigned, 2> homes() override {
        std::array<unsigned, 2> h{};
        for (std::size_t i = 0; i < lanes_.size(); ++i) {
            std::lock_guard hold(lanes_[i].turn);
            h[i] = lanes_[i].home;
        }
        return h;
    }

  private:
    bool watch(Lane& lane, unsigned thread) {
        epoll_event ev{EPOLLIN, {.u32 = static_cast<uint32_t>(lane.way)}};
        if (::epoll_ctl(sets_[thread].get(), EPOLL_CTL_ADD, lane.source_fd, &ev) != 0) return false;
        lane.home = thread;
        return true;
    }

    // Both mutexes held. If the kernel refuses to move the lane it stays where it was.
    void move(Lane& lane, unsigned to) {
        const unsigned from = lane.home;
        if (::epoll_ctl(sets_[from].get(), EPOLL_CTL_DEL, lane.source_fd, nullptr) != 0) return;
        if (!watch(lane, to) && !watch(lane, from)) std::abort();  // the fd was just in a set
    }

    // After a turn of `done` by thread me (its mutex held): split the lanes after a heavy turn,
    // merge them into me once both have been calm for kCalm.
    void rebalance(unsigned me, Lane& done, bool heavy, int64_t now) {
        Lane& other = lanes_[done.way == Way::outbound ? 1 : 0];
        std::unique_lock hold(other.turn, std::try_to_lock);
        if (!hold) return;  // the other lane is mid-turn: it is busy, leave it where it is
        if (heavy && other.home == me) {
            move(other, (me + 1) % kThreads);
        } else if (!heavy && other.home != me && now - done.last_heavy >= kCalm &&
                   now - other.last_heavy >= kCalm) {
            move(other, me);
        }
    }

    // Reads, transforms and writes batches until the source is drained, or for
    // kBatchesPerTurn batches; returns how many packets it read.
    std::size_t drain(Lane& lane) {
        const auto slots = lane.pool.all();
        std::size_t packets = 0;
        for (unsigned batches = 0; batches < kBatchesPerTurn; ++batches) {
            const std::size_t n =
                lane.way == Way::outbound ? ctx_.tun.read(slots) : ctx_.transport.receive(slots);
            if (n == 0) break;
            packets += n;
            const SadbSnapshot& snap = lane.snapshots.get();
            const int64_t now = ctx_.now_ns();
            lane.out.clear();
            for (std::size_t i = 0; i < n; ++i) {
                Packet& p = *slots[i];
                const Outcome o = lane.way == Way::outbound ? lane.processor.outbound(snap, p, now)
                                                            : lane.processor.inbound(snap, p, now);
                if (o.ok) lane.out.push_back(&p);
            }
            if (!lane.out.empty()) {
                if (lane.way == Way::outbound) {
                    ctx_.transport.send(lane.out);
                } else {
                    const std::size_t datagrams = unpaced_datagrams(lane.out);
                    ctx_.tun.write(lane.out);
                    if (datagrams >= kHeavyTurn) ::sched_yield();
                }
            }
            // A batch that is not full drained its source (the devices hold nothing back then),
            // and the sets are level-triggered: reading again would be a syscall that finds
            // nothing.
            if (n < slots.size()) break;
        }
        return packets;
    }

    // How many of the packets to write carry no TCP. Inside write() the kernel delivers them
    // to the local receivers' sockets, up to 64 datagrams at a time into one socket, and
    // nothing paces a datagram sender. Left to run on, this lane (nice -10) fills a default
    // receive buffer (208 KiB: a few hundred small datagrams) faster than a receiver woken on
    // this CPU empties it, and the rest is dropped there. After a batch of kHeavyTurn or more
    // the lane yields, and the receiver takes the batch before the next one lands (UDP 64 B flood,
    // paired quick rounds: 81-100 k -> 127-168 k datagrams/s received). TCP needs no yield:
    // its window paces the sender, and a yield after each of its batches cost about 10 % of
    // one stream's throughput.
    static std::size_t unpaced_datagrams(const std::vector<Packet*>& batch) {
        std::size_t n = 0;
        for (const Packet* p : batch) {
            if (peek_protocol(p->bytes()) != kProtoTcp) ++n;
        }
        return n;
    }

    static int64_t monotonic_ns() {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    }

    const WorkerContext ctx_;
    std::array<UniqueFd, kThreads> sets_;
    std::array<Lane, 2> lanes_;
};

}  // namespace

Result<std::unique_ptr<Lanes>> Lanes::create(const WorkerContext& ctx) {
    auto lanes = std::make_unique<EpollLanes>(ctx);
    if (auto r = lanes->arm(); !r) return std::move(r).take_error();
    return std::unique_ptr<Lanes>(std::move(lanes));
}

}  // namespace ipsecfs::netpath
