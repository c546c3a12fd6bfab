#include "mountd/lib/lifetime_watcher.hpp"

#include <pthread.h>

namespace ipsecfs::mountd {

LifetimeWatcher::LifetimeWatcher(Sadb& sadb, std::function<int64_t()> now_ns, Publish publish,
                                 Options options)
    : sadb_(sadb), now_ns_(std::move(now_ns)), publish_(std::move(publish)), options_(options) {}

LifetimeWatcher::~LifetimeWatcher() {
    stop();
}

void LifetimeWatcher::start() {
    thread_ = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "ipsec-lifetime");
        loop();
    });
}

void LifetimeWatcher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void LifetimeWatcher::loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        pass();
        lock.lock();
        wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
}

void LifetimeWatcher::pass() {
    const SadbSnapshotPtr snap = sadb_.snapshot();
    if (snap->generation() != watched_generation_) {
        watched_.clear();
        for (const auto& [said, sa] : snap->sas()) {
            if (life_watched(*sa)) watched_.push_back(sa);
        }
        watched_generation_ = snap->generation();
    }
    const int64_t now = now_ns_();
    std::vector<LifeEvent> hard;
    for (const SaPtr& sa : watched_) {
        for (LifeEvent& e : life_check(*sa, *snap, now, options_.seq_soft_headroom)) {
            if (e.level == LifeEvent::Level::hard) {
                hard.push_back(std::move(e));
            } else {
                publish_(e);
            }
        }
    }
    if (hard.empty()) return;

    // Every expired SA goes in one transaction, its group with it; then the events, so that a
    // listener reacting to one finds the SA already gone.
    std::vector<LifeEvent> events;
    auto tx = sadb_.begin();
    for (const LifeEvent& e : hard) {
        const std::vector<SaPtr> removed = tx.take_down(e.said, e.sa_id);
        if (removed.empty()) continue;
        events.push_back(e);
        for (std::size_t i = 1; i < removed.size(); ++i) {
            const Sa& member = *removed[i];
            mark_hard(member, ExpiryCause::group, 0);
            member.counters().hard_reported.store(true, std::memory_order_relaxed);
            LifeEvent g;
            g.level = LifeEvent::Level::hard;
            g.said = member.said();
            g.sa_id = member.id();
            g.dir = member.config().dir;
            g.cause = ExpiryCause::group;
            g.at_ns = now;
            g.expired_member = e.said;
            events.push_back(std::move(g));
        }
    }
    tx.commit();
    for (const LifeEvent& e : events)
        publish_(e);
}

}  // namespace ipsecfs::mountd
