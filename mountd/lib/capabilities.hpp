#pragma once
// What ipsec-mountd keeps of root's power once it is set up (TUN open, sockets bound, FUSE
// mounted, control socket listening): the few capabilities it still uses, no_new_privs, and no
// core dumps. Capabilities are per thread and the daemon's threads exist by then, so the drop
// runs on every thread of the process (see capabilities.cpp).

#include <cstdint>

#include "core/result.hpp"

namespace ipsecfs::mountd {

// A set of Linux capabilities (CAP_* of <linux/capability.h>), bit n for capability n.
using CapabilityMask = uint64_t;

// What the running daemon still needs:
//   CAP_SYS_ADMIN  the unmount when it stops: libfuse unmounts with umount2() itself when euid is
//                  0 (fusermount3 is not used, and being setuid it could not help under
//                  no_new_privs); without it the mount is left dead (ENOTCONN).
//   CAP_NET_ADMIN  with the packet engine: the TUN MTU (SIOCSIFMTU) set after SADB commits.
// The raw and UDP sockets, the TUN device and /dev/fuse are open already; using them needs none.
CapabilityMask runtime_capabilities(bool packet_engine);

// On every thread: drops each capability outside `keep` from the effective, permitted,
// inheritable and ambient sets and, when the caller has CAP_SETPCAP, from the bounding set, and
// sets no_new_privs. Then makes the process non-dumpable (the SADB's copies of keys live in
// ordinary memory) and checks every thread's /proc status. Call once, from one thread, while no
// thread is being started.
Result<void> drop_privileges(CapabilityMask keep);

}  // namespace ipsecfs::mountd
