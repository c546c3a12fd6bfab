#include <ifaddrs.h>
#include <netinet/in.h>
#include <time.h>

#include <mutex>
#include <vector>

#include "netpath/engine.hpp"

namespace ipsecfs::netpath {
namespace {

std::vector<IpAddress> read_local_addresses() {
    std::vector<IpAddress> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (const ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            out.push_back(IpAddress::v4(
                std::span<const uint8_t, 4>(reinterpret_cast<const uint8_t*>(&a->sin_addr), 4)));
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            out.push_back(IpAddress::v6(std::span<const uint8_t, 16>(a->sin6_addr.s6_addr, 16)));
        }
    }
    ::freeifaddrs(list);
    return out;
}

}  // namespace

// A batch adds thousands of SAs in one go; the interface list is read at most every 100 ms.
bool is_local_address(const IpAddress& a) {
    static std::mutex mutex;
    static std::vector<IpAddress> cached;
    static int64_t read_at = -1;
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const int64_t now_ms = ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
    std::lock_guard lock(mutex);
    if (read_at < 0 || now_ms - read_at >= 100) {
        cached = read_local_addresses();
        read_at = now_ms;
    }
    for (const auto& local : cached) {
        if (local == a) return true;
    }
    return false;
}

}  // namespace ipsecfs::netpath
