#pragma once
// The entries of one directory as of its opendir, served to readdir page by page.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fs/inode.hpp"

namespace ipsecfs::fs {

class DirListing {
  public:
    struct Entry {
        const char* name;  // NUL-terminated
        Ino ino;
        bool is_dir;
    };

    void reserve(std::size_t entries, std::size_t name_bytes);
    void add(std::string_view name, Ino ino, bool is_dir);
    std::size_t size() const { return slots_.size(); }
    Entry operator[](std::size_t i) const;

    // Packs the entries from index `offset` on into `buf` as FUSE dirents until the next one does
    // not fit; returns the bytes used (0 at the end). Entry i carries offset i + 1, the offset to
    // resume after it.
    std::size_t fill(char* buf, std::size_t size, std::size_t offset) const;

  private:
    struct Slot {
        std::size_t name_at;
        Ino ino;
        bool is_dir;
    };
    std::string names_;
    std::vector<Slot> slots_;
};

}  // namespace ipsecfs::fs
