#pragma once
// The live views read the daemon's filesystem, not its control socket: where it is mounted and
// how to read one of its files again through a descriptor kept open.

#include <optional>
#include <string>

#include "core/result.hpp"

namespace ipsecfs::mountd {

inline constexpr const char* kDefaultMountPath = "/run/ipsec";

// --mount when given, else $IPSEC_MOUNT, else /run/ipsec.
std::string mount_path(const std::optional<std::string>& option);

// The whole file, read from offset 0: a fresh rendering each time (see ipsec_spi(5)).
Result<std::string> read_from_start(int fd);

}  // namespace ipsecfs::mountd
