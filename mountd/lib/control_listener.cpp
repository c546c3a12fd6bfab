#include "mountd/lib/control_listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace ipsecfs::mountd {
namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path))
        return fail("control socket path '" + path + "' is empty or longer than " +
                    std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

// Removes a socket file nobody listens on; refuses one a live daemon answers on.
Result<void> claim_path(const std::string& path, const sockaddr_un& addr) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return fail("control socket " + path + ": " + std::strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return fail("control socket " + path + " exists and is not a socket");
    fs::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe) return fail(std::string("socket: ") + std::strerror(errno));
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
        errno == EAGAIN)
        return fail("control socket " + path + " is in use by another ipsec-mountd");
    if (errno != ECONNREFUSED) return fail("control socket " + path + ": " + std::strerror(errno));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return fail("cannot remove stale control socket " + path + ": " + std::strerror(errno));
    return {};
}

}  // namespace

Result<ControlListener> ControlListener::open(const std::string& path) {
    auto addr = unix_address(path);
    if (!addr) return std::move(addr).take_error();
    if (auto r = claim_path(path, *addr); !r) return std::move(r).take_error();

    fs::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
    // Created 0600 from the start: no moment where another user could connect.
    const mode_t old_mask = ::umask(0177);
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
    const int bind_errno = errno;
    ::umask(old_mask);
    if (bound != 0)
        return fail("cannot create control socket " + path + ": " + std::strerror(bind_errno));
    ControlListener listener(std::move(fd), path);
    if (::chmod(path.c_str(), 0600) != 0 || ::listen(listener.fd(), 16) != 0)
        return fail("control socket " + path + ": " + std::strerror(errno));
    return listener;
}

ControlListener::~ControlListener() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

}  // namespace ipsecfs::mountd
