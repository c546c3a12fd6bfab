#include "mountd/lib/mount_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ipsecfs::mountd {

std::string mount_path(const std::optional<std::string>& option) {
    if (option) return *option;
    const char* env = std::getenv("IPSEC_MOUNT");
    return env && *env ? env : kDefaultMountPath;
}

Result<std::string> read_from_start(int fd) {
    std::string text;
    std::size_t chunk = 64 * 1024;
    for (;;) {
        const std::size_t used = text.size();
        text.resize(used + chunk);
        const ssize_t n = ::pread(fd, text.data() + used, chunk, static_cast<off_t>(used));
        if (n < 0) {
            text.resize(used);
            if (errno == EINTR) continue;
            return fail(std::strerror(errno));
        }
        text.resize(used + static_cast<std::size_t>(n));
        if (n == 0) return text;
        chunk = std::min<std::size_t>(chunk * 2, 4 << 20);
    }
}

}  // namespace ipsecfs::mountd
