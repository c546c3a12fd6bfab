#pragma once
// Owning pointers for libfuse objects.

#include <fuse_lowlevel.h>

#include <memory>

namespace ipsecfs::fs {

struct SessionDeleter {
    void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
using SessionPtr = std::unique_ptr<fuse_session, SessionDeleter>;

struct LoopConfigDeleter {
    void operator()(fuse_loop_config* c) const { fuse_loop_cfg_destroy(c); }
};
using LoopConfigPtr = std::unique_ptr<fuse_loop_config, LoopConfigDeleter>;

}  // namespace ipsecfs::fs
