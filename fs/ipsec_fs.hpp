#pragma once
// The read-only FUSE filesystem at /run/ipsec (libfuse3 low-level API). See ipsec_fs.cpp.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/dataplane_status.hpp"
#include "core/result.hpp"
#include "core/sadb.hpp"

namespace ipsecfs::fs {

struct MountOptions {
    std::string mountpoint = "/run/ipsec";
    bool debug = false;
    unsigned threads = 2;  // FUSE worker threads
    // While packets flow, at most this many requests a second are answered (request_budget.hpp);
    // 0: no limit.
    uint32_t busy_request_rate = 0;
    // Files are root's, mode 0400 (directories 0500), as KLIPS's /proc files were. With a read
    // group they are 0440/0550 and belong to that group, so its members may read them.
    std::optional<gid_t> read_group;
};

class IpsecFs {
  public:
    // Mounts the filesystem (the mount point must exist and not be mounted). The Sadb and the
    // DataplaneStatus must outlive the returned object.
    static Result<std::unique_ptr<IpsecFs>> mount(const MountOptions& options, const Sadb& sadb,
                                                  const DataplaneStatus& status,
                                                  std::function<int64_t()> now_ns);
    virtual ~IpsecFs() = default;  // unmounts if still mounted

    // Serves requests until exit() is called or the filesystem is unmounted from outside.
    virtual int run() = 0;
    // Thread- and signal-safe: makes run() return.
    virtual void exit() = 0;
    // Plug into Sadb::Environment::on_commit: wakes the poll()s waiting on the files whose list
    // changed, and drops the kernel's cached attributes of spi/ when the SA count (its link
    // count) changed. Names under spi/ are never cached.
    virtual void on_commit(const SadbSnapshot& before, const SadbSnapshot& after) = 0;
};

// A FUSE mount left by a killed daemon answers ENOTCONN: detach it so the mount point can be
// reused. Returns ok when the path is usable (not a mount, or a stale one now detached) and an
// error when a live filesystem is mounted there.
Result<void> recover_stale_mount(const std::string& mountpoint);

}  // namespace ipsecfs::fs
