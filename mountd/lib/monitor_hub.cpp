#include "mountd/lib/monitor_hub.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace ipsecfs::mountd {

void MonitorHub::add(fs::UniqueFd client) {
    std::lock_guard lock(mutex_);
    clients_.push_back(std::move(client));
}

void MonitorHub::publish(const std::string& line) {
    const std::string text = line + "\n";
    std::lock_guard lock(mutex_);
    const auto gone = [&](const fs::UniqueFd& fd) {
        ssize_t n;
        do {
            n = ::send(fd.get(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n == static_cast<ssize_t>(text.size())) return false;
        if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
            std::fprintf(stderr, "ipsec-mountd: monitor client not reading, disconnected\n");
        }
        return true;
    };
    clients_.erase(std::remove_if(clients_.begin(), clients_.end(), gone), clients_.end());
}

std::size_t MonitorHub::subscribers() const {
    std::lock_guard lock(mutex_);
    return clients_.size();
}

}  // namespace ipsecfs::mountd
