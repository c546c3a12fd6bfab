#pragma once
// One SADB generation as the filesystem sees it: the snapshot and, built on first use, an index
// from Sa::id() to the SA, so resolving an inode does not scan every SA.

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/sadb.hpp"

namespace ipsecfs::fs {

class View {
  public:
    explicit View(SadbSnapshotPtr snapshot) : snapshot_(std::move(snapshot)) {}

    const SadbSnapshot& snapshot() const { return *snapshot_; }
    uint64_t generation() const { return snapshot_->generation(); }
    // Null when no SA of this snapshot has the id (deleted, or replaced by a new instance).
    const Sa* find(uint64_t sa_id) const;

  private:
    SadbSnapshotPtr snapshot_;
    mutable std::once_flag indexed_;
    mutable std::unordered_map<uint64_t, const Sa*> by_id_;
};

using ViewPtr = std::shared_ptr<const View>;

// The View of the SADB's current generation, shared by all requests until the next commit.
class ViewCache {
  public:
    explicit ViewCache(const Sadb& sadb) : sadb_(sadb) {}
    ViewPtr current();

  private:
    const Sadb& sadb_;
    std::mutex mutex_;  // guards view_
    ViewPtr view_;
};

}  // namespace ipsecfs::fs
