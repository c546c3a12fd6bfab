#include "fs/dir_listing.hpp"

#include <fuse_lowlevel.h>
#include <sys/stat.h>

namespace ipsecfs::fs {

void DirListing::reserve(std::size_t entries, std::size_t name_bytes) {
    slots_.reserve(entries);
    names_.reserve(name_bytes);
}

void DirListing::add(std::string_view name, Ino ino, bool is_dir) {
    slots_.push_back({names_.size(), ino, is_dir});
    names_.append(name);
    names_.push_back('\0');
}

DirListing::Entry DirListing::operator[](std::size_t i) const {
    const Slot& s = slots_[i];
    return {names_.data() + s.name_at, s.ino, s.is_dir};
}

std::size_t DirListing::fill(char* buf, std::size_t size, std::size_t offset) const {
    std::size_t used = 0;
    for (std::size_t i = offset; i < slots_.size(); ++i) {
        const Entry e = (*this)[i];
        struct stat st {};
        st.st_ino = e.ino;
        st.st_mode = e.is_dir ? S_IFDIR : S_IFREG;
        // fuse_add_direntry ignores its request argument and only measures when it does not fit.
        const std::size_t len = fuse_add_direntry(nullptr, buf + used, size - used, e.name, &st,
                                                  static_cast<off_t>(i + 1));
        if (len > size - used) break;
        used += len;
    }
    return used;
}

}  // namespace ipsecfs::fs
