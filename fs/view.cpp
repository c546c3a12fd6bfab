#include "fs/view.hpp"

namespace ipsecfs::fs {

const Sa* View::find(uint64_t sa_id) const {
    std::call_once(indexed_, [this] {
        by_id_.reserve(snapshot_->size());
        for (const auto& [said, sa] : snapshot_->sas())
            by_id_.emplace(sa->id(), sa.get());
    });
    const auto it = by_id_.find(sa_id);
    return it == by_id_.end() ? nullptr : it->second;
}

ViewPtr ViewCache::current() {
    std::lock_guard lock(mutex_);
    if (view_ && view_->generation() == sadb_.generation()) return view_;
    auto snapshot = sadb_.snapshot();
    // Sadb publishes a snapshot before it bumps generation(), so the cached view may be newer
    // than the counter just read: never go back to an older one.
    if (!view_ || snapshot->generation() > view_->generation()) {
        view_ = std::make_shared<const View>(std::move(snapshot));
    }
    return view_;
}

}  // namespace ipsecfs::fs
