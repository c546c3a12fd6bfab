#include "netpath/worker.hpp"

#include <poll.h>

#include <vector>

#include "netpath/processor.hpp"

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

// Waits until one of fds is readable; false once stop_fd is.
bool wait_readable(std::vector<pollfd>& fds) {
    for (auto& p : fds)
        p.revents = 0;
    if (::poll(fds.data(), fds.size(), 1000) < 0) return true;
    return (fds.back().revents & POLLIN) == 0;
}

// One worker's loop: wait until a source is readable, then read a batch, transform each
// packet, write the survivors in one go; repeat while batches come full.
template <class Read, class Transform, class Write>
void run_batches(const WorkerContext& ctx, std::vector<int> source_fds, Read read,
                 Transform transform, Write write) {
    PacketPool pool(kBatchSize);
    std::vector<Packet*> out;
    out.reserve(kBatchSize);
    Processor processor(ctx.status);
    SnapshotCache snapshots(ctx.sadb);
    std::vector<pollfd> fds;
    for (int fd : source_fds)
        fds.push_back({fd, POLLIN, 0});
    fds.push_back({ctx.stop_fd, POLLIN, 0});
    while (wait_readable(fds)) {
        // Back to poll() now and then, where stop_fd is seen, however busy the sources are.
        for (unsigned batches = 0; batches < 64; ++batches) {
            const std::size_t n = read(pool.all());
            if (n == 0) break;
            const SadbSnapshot& snap = snapshots.get();
            const int64_t now = ctx.now_ns();
            out.clear();
            for (std::size_t i = 0; i < n; ++i) {
                Packet* p = pool.all()[i];
                if (transform(processor, snap, *p, now).ok) out.push_back(p);
            }
            if (!out.empty()) write(out);
            // A batch that is not full drained its source (the devices hold nothing back then),
            // and poll() is level-triggered: reading again would be a syscall that finds nothing.
            if (n < pool.all().size()) break;
        }
    }
}

}  // namespace

void run_outbound(const WorkerContext& ctx) {
    run_batches(
        ctx, {ctx.tun.poll_fd()}, [&](std::span<Packet* const> b) { return ctx.tun.read(b); },
        [](Processor& p, const SadbSnapshot& s, Packet& pkt, int64_t now) {
            return p.outbound(s, pkt, now);
        },
        [&](std::span<Packet* const> b) { ctx.transport.send(b); });
}

void run_inbound(const WorkerContext& ctx) {
    run_batches(
        ctx, ctx.transport.poll_fds(),
        [&](std::span<Packet* const> b) { return ctx.transport.receive(b); },
        [](Processor& p, const SadbSnapshot& s, Packet& pkt, int64_t now) {
            return p.inbound(s, pkt, now);
        },
        [&](std::span<Packet* const> b) { ctx.tun.write(b); });
}

}  // namespace ipsecfs::netpath
