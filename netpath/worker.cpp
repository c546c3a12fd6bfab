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

}  // namespace

void run_outbound(const WorkerContext& ctx) {
    PacketPool pool(kBatchSize);
    std::vector<Packet*> out;
    out.reserve(kBatchSize);
    Processor processor(ctx.status);
    SnapshotCache snapshots(ctx.sadb);
    std::vector<pollfd> fds = {{ctx.tun.poll_fd(), POLLIN, 0}, {ctx.stop_fd, POLLIN, 0}};
    while (wait_readable(fds)) {
        for (;;) {
            const std::size_t n = ctx.tun.read(pool.all());
            if (n == 0) break;
            const SadbSnapshot& snap = snapshots.get();
            const int64_t now = ctx.now_ns();
            out.clear();
            for (std::size_t i = 0; i < n; ++i) {
                Packet* p = pool.all()[i];
                if (processor.outbound(snap, *p, now).ok) out.push_back(p);
            }
            if (!out.empty()) ctx.transport.send(out);
            if (n < kBatchSize) break;
        }
    }
}

void run_inbound(const WorkerContext& ctx) {
    PacketPool pool(kBatchSize);
    std::vector<Packet*> out;
    out.reserve(kBatchSize);
    Processor processor(ctx.status);
    SnapshotCache snapshots(ctx.sadb);
    std::vector<pollfd> fds;
    for (int fd : ctx.transport.poll_fds())
        fds.push_back({fd, POLLIN, 0});
    fds.push_back({ctx.stop_fd, POLLIN, 0});
    while (wait_readable(fds)) {
        for (;;) {
            const std::size_t n = ctx.transport.receive(pool.all());
            if (n == 0) break;
            const SadbSnapshot& snap = snapshots.get();
            const int64_t now = ctx.now_ns();
            out.clear();
            for (std::size_t i = 0; i < n; ++i) {
                Packet* p = pool.all()[i];
                if (processor.inbound(snap, *p, now).ok) out.push_back(p);
            }
            if (!out.empty()) ctx.tun.write(out);
            if (n < kBatchSize) break;
        }
    }
}

}  // namespace ipsecfs::netpath
