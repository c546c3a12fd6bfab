#include "mountd/lib/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

SystemdNotifier SystemdNotifier::from_environment() {
    const char* name = std::getenv("NOTIFY_SOCKET");
    std::string taken = name ? name : "";
    ::unsetenv("NOTIFY_SOCKET");
    return SystemdNotifier(std::move(taken));
}

Result<void> SystemdNotifier::notify(std::string_view state) const {
    if (!active()) return {};
    const std::string who = "NOTIFY_SOCKET=" + socket_name_;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // An abstract name is not NUL-terminated: its length is the address length.
    const bool abstract = socket_name_.front() == '@';
    if (!abstract && socket_name_.front() != '/')
        return fail(who + ": only a path or an @abstract name is supported");
    if (socket_name_.size() >= sizeof address.sun_path) return fail(who + ": name too long");
    std::memcpy(address.sun_path, socket_name_.data(), socket_name_.size());
    if (abstract) address.sun_path[0] = '\0';
    const auto length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name_.size());

    fs::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(who + ": socket: " + std::strerror(errno));
    ssize_t sent = -1;
    do {
        sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&address), length);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return fail(who + ": " + std::strerror(errno));
    if (static_cast<std::size_t>(sent) != state.size()) return fail(who + ": message cut short");
    return {};
}

}  // namespace ipsecfs::mountd
