#pragma once
// The stat of every node: owned by root, read-only, and (procfs style) size 0; files are opened
// with direct_io, so readers get the whole rendered text regardless.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "fs/inode.hpp"

namespace ipsecfs::fs {

struct Permissions {
    gid_t gid = 0;
    mode_t file_mode = 0400;  // KLIPS's /proc/net/ipsec_* were root-only
    mode_t dir_mode = 0500;

    // With a read group, its members may read too (0440 files, 0550 directories).
    static Permissions with_read_group(std::optional<gid_t> read_group);
};

// `sa_count` is the number of SAs (the link count of spi/); `time_ns` becomes atime, mtime and
// ctime.
struct stat node_attr(const Node& node, const Permissions& perms, std::size_t sa_count,
                      int64_t time_ns);

}  // namespace ipsecfs::fs
