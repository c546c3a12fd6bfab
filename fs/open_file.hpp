#pragma once
// One open() of a file: what it rendered and from which SADB generation. Reads serve slices of
// that text, so one pass over the file is consistent. A read from offset 0 starts a new pass
// (lseek(fd, 0, SEEK_SET) or pread at 0, as with /proc): the caller renders afresh and renew()s,
// so a poller can re-read without reopening. Only the first pass may be served the text rendered
// at open, when the SADB has not changed since. Reads may run concurrently.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "fs/inode.hpp"
#include "fs/rendered_file.hpp"

namespace ipsecfs::fs {

class OpenFile {
  public:
    OpenFile(Node node, std::string text, uint64_t generation)
        : node_(node),
          text_(std::make_shared<const RenderedFile>(std::move(text))),
          generation_(generation) {}

    const Node& node() const { return node_; }
    // The SADB generation the current text was rendered from.
    uint64_t generation() const {
        std::lock_guard lock(mutex_);
        return generation_;
    }
    // Has a read been served? A read from offset 0 after that starts a new pass.
    bool read_before() const { return read_.load(std::memory_order_acquire); }

    // The text for a read; marks the file as read.
    std::shared_ptr<const RenderedFile> text() {
        read_.store(true, std::memory_order_release);
        std::lock_guard lock(mutex_);
        return text_;
    }

    // A new pass rendered `text` from `generation`. A reader racing with an older render keeps
    // the newer one.
    void renew(std::string text, uint64_t generation) {
        auto fresh = std::make_shared<const RenderedFile>(std::move(text));
        std::lock_guard lock(mutex_);
        if (generation < generation_) return;
        text_.swap(fresh);
        generation_ = generation;
    }

  private:
    const Node node_;
    std::atomic<bool> read_{false};
    mutable std::mutex mutex_;  // guards text_ and generation_
    std::shared_ptr<const RenderedFile> text_;
    uint64_t generation_;
};

}  // namespace ipsecfs::fs
