#pragma once
// The text of every file of the mount, rendered from one snapshot at one instant.

#include <cstdint>
#include <string>

#include "core/dataplane_status.hpp"
#include "core/sadb.hpp"
#include "fs/inode.hpp"

namespace ipsecfs::fs {

// `file` is a root_file or an sa_file; for an sa_file, `sa` is its SA (from `snap`).
std::string render_file(const Node& file, const Sa* sa, const SadbSnapshot& snap,
                        const DataplaneStatus& status, int64_t now_ns);

}  // namespace ipsecfs::fs
