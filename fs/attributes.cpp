#include "fs/attributes.hpp"

namespace ipsecfs::fs {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

nlink_t link_count(const Node& node, std::size_t sa_count) {
    switch (node.kind) {
        case NodeKind::root:
            return 3;  // ".", "..", spi/..
        case NodeKind::spi_dir:
            return static_cast<nlink_t>(2 + sa_count);
        case NodeKind::sa_dir:
            return 3;  // life/..
        case NodeKind::life_dir:
            return 2;
        case NodeKind::root_file:
        case NodeKind::sa_file:
            return 1;
    }
    return 1;
}

}  // namespace

Permissions Permissions::with_read_group(std::optional<gid_t> read_group) {
    if (!read_group) return {};
    return {.gid = *read_group, .file_mode = 0440, .dir_mode = 0550};
}

struct stat node_attr(const Node& node, const Permissions& perms, std::size_t sa_count,
                      int64_t time_ns) {
    struct stat st {};
    st.st_ino = encode(node);
    st.st_mode = node.is_dir() ? (S_IFDIR | perms.dir_mode) : (S_IFREG | perms.file_mode);
    st.st_nlink = link_count(node, sa_count);
    st.st_uid = 0;
    st.st_gid = perms.gid;
    st.st_size = 0;
    st.st_blksize = 4096;
    const int64_t ns = time_ns > 0 ? time_ns : 0;
    const timespec t{.tv_sec = static_cast<time_t>(ns / kNsPerSecond),
                     .tv_nsec = static_cast<long>(ns % kNsPerSecond)};
    st.st_atim = st.st_mtim = st.st_ctim = t;
    return st;
}

}  // namespace ipsecfs::fs
