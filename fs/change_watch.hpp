#pragma once
// When each watched file last changed, and the pollers waiting for its next change.
//
// A change is stamped with the SADB generation of the commit that made it; an open file
// remembers the generation of the snapshot it rendered. A file has changed for that open when a
// later generation changed it. Comparing generations rather than counting notifications makes a
// reader that rendered the new snapshot before the commit's notification arrived wait again,
// as it should: its text already shows the change.
//
// `Waiter` is the poller's move-only wake-up token (a fuse_pollhandle in the server): one per
// open file, kept until that file changes or the open is released.

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fs/watched_files.hpp"

namespace ipsecfs::fs {

template <class Waiter>
class ChangeWatch {
  public:
    // Has `file` changed since generation `seen`? If not and `waiter` holds a token, keeps it for
    // the open `fh` (dropping the one an earlier poll of that open left) until the next change.
    bool changed_since(RootFile file, uint64_t seen, uint64_t fh, Waiter waiter) {
        std::lock_guard lock(mutex_);
        if (changed_at_[index(file)] > seen) return true;
        if (waiter) waiting_.insert_or_assign(fh, Entry{file, std::move(waiter)});
        return false;
    }

    // A commit published generation `generation` and changed `files`: returns the tokens to wake.
    std::vector<Waiter> commit(const FileSet& files, uint64_t generation) {
        std::vector<Waiter> wake;
        if (files.none()) return wake;
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < kRootFileCount; ++i) {
            // Commits may report out of order (on_commit runs outside the SADB lock).
            if (files.test(i)) changed_at_[i] = std::max(changed_at_[i], generation);
        }
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            if (files.test(index(it->second.file))) {
                wake.push_back(std::move(it->second.waiter));
                it = waiting_.erase(it);
            } else {
                ++it;
            }
        }
        return wake;
    }

    // The open `fh` was released.
    void forget(uint64_t fh) {
        Waiter dropped;
        std::lock_guard lock(mutex_);
        auto node = waiting_.extract(fh);
        if (!node.empty()) dropped = std::move(node.mapped().waiter);
    }

    std::size_t waiting() const {
        std::lock_guard lock(mutex_);
        return waiting_.size();
    }

  private:
    struct Entry {
        RootFile file;
        Waiter waiter;
    };
    static std::size_t index(RootFile f) { return static_cast<std::size_t>(f); }

    mutable std::mutex mutex_;  // guards changed_at_ and waiting_
    std::array<uint64_t, kRootFileCount> changed_at_{};
    std::unordered_map<uint64_t, Entry> waiting_;
};

}  // namespace ipsecfs::fs
