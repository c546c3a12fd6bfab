#pragma once
// The objects opens hand to the kernel as fi->fh. The kernel gives each back with release or
// releasedir; the ones it never gives back (the connection ended first, or a close's
// asynchronous release was still queued at unmount) are freed with the table.

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace ipsecfs::fs {

template <class T>
class HandleTable {
  public:
    uint64_t add(std::unique_ptr<T> object) {
        const auto fh = reinterpret_cast<uintptr_t>(object.get());
        std::lock_guard lock(mutex_);
        objects_.emplace(fh, std::move(object));
        return fh;
    }

    // Needs no lock: the kernel passes a handle only between its open and its release.
    static T& get(uint64_t fh) { return *reinterpret_cast<T*>(static_cast<uintptr_t>(fh)); }

    void remove(uint64_t fh) {
        std::unique_ptr<T> object;
        {
            std::lock_guard lock(mutex_);
            auto node = objects_.extract(fh);
            if (node.empty()) return;
            object = std::move(node.mapped());
        }
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return objects_.size();
    }

  private:
    mutable std::mutex mutex_;  // guards objects_
    std::unordered_map<uint64_t, std::unique_ptr<T>> objects_;
};

}  // namespace ipsecfs::fs
