#include "netpath/tun_device.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace ipsecfs::netpath {
namespace {

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

Result<void> ifreq_ioctl(unsigned long request, ifreq& ifr, const std::string& what) {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) return fail(errno_text("socket"));
    if (::ioctl(sock.get(), request, &ifr) < 0) return fail(errno_text(what));
    return {};
}

class LinuxTun final : public TunDevice {
  public:
    LinuxTun(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

    std::size_t read(std::span<Packet* const> packets) override {
        std::size_t n = 0;
        for (Packet* p : packets) {
            auto area = p->reset();
            const ssize_t got = ::read(fd_.get(), area.data(), area.size());
            if (got <= 0) break;
            p->set_size(static_cast<std::size_t>(got));
            ++n;
        }
        return n;
    }

    std::size_t write(std::span<Packet* const> packets) override {
        std::size_t n = 0;
        for (Packet* p : packets) {
            if (::write(fd_.get(), p->data(), p->size()) == static_cast<ssize_t>(p->size())) ++n;
        }
        return n;
    }

    int poll_fd() const override { return fd_.get(); }

    Result<void> set_mtu(unsigned mtu) override {
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, name_.c_str(), IFNAMSIZ - 1);
        ifr.ifr_mtu = static_cast<int>(mtu);
        return ifreq_ioctl(SIOCSIFMTU, ifr, "set MTU of " + name_);
    }

    const std::string& name() const override { return name_; }

  private:
    UniqueFd fd_;
    std::string name_;
};

}  // namespace

Result<std::unique_ptr<TunDevice>> open_linux_tun(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return fail("bad TUN device name '" + name + "'");
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return fail(errno_text("open /dev/net/tun"));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0)
        return fail(errno_text("create TUN device " + name));
    const std::string actual = ifr.ifr_name;

    ifreq up{};
    std::strncpy(up.ifr_name, actual.c_str(), IFNAMSIZ - 1);
    if (auto r = ifreq_ioctl(SIOCGIFFLAGS, up, "get flags of " + actual); !r)
        return std::move(r).take_error();
    up.ifr_flags = static_cast<short>(up.ifr_flags | IFF_UP | IFF_RUNNING);
    if (auto r = ifreq_ioctl(SIOCSIFFLAGS, up, "bring up " + actual); !r)
        return std::move(r).take_error();
    return std::unique_ptr<TunDevice>(new LinuxTun(std::move(fd), actual));
}

unsigned device_mtu(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return 0;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (!ifreq_ioctl(SIOCGIFMTU, ifr, "get MTU")) return 0;
    return static_cast<unsigned>(ifr.ifr_mtu);
}

}  // namespace ipsecfs::netpath
