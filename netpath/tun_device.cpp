#include "netpath/tun_device.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "netpath/gso_split.hpp"
#include "netpath/tcp_coalesce.hpp"
#include "netpath/udp_coalesce.hpp"
#include "netpath/vnet_header.hpp"

// Linux 6.2 (after Debian 12's headers).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

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

class FdTun final : public TunDevice {
  public:
    FdTun(UniqueFd fd, std::string name, TunOffload offload, DataplaneStatus& status)
        : fd_(std::move(fd)),
          name_(std::move(name)),
          vnet_(offload != TunOffload::none),
          udp_gro_(offload == TunOffload::tcp_udp),
          status_(status) {
        if (vnet_) {
            scratch_ = std::make_unique<Packet>();
            writes_.reserve(kBatchSize);
        }
    }

    std::size_t read(std::span<Packet* const> packets) override {
        if (!vnet_) return read_plain(packets);
        std::size_t n = drain_pending(packets);
        while (n < packets.size() && pending_count_ == 0) {
            // Every frame lands in scratch_, the header in its headroom: a super-packet is cut
            // from there into the batch (its segments would overwrite a slot it was read into),
            // a plain packet is copied into its slot (at most an MTU; 64 KB saved per
            // super-packet).
            auto area = scratch_->reset();
            uint8_t* at = area.data() - kVnetHeaderBytes;
            const ssize_t got = ::read(fd_.get(), at, area.size() + kVnetHeaderBytes);
            if (got <= 0) break;
            status_.tun_read_frames.add_owned();
            const auto frame = static_cast<std::size_t>(got);
            status_.tun_read_bytes.add_owned(frame > kVnetHeaderBytes ? frame - kVnetHeaderBytes
                                                                      : 0);
            if (frame <= kVnetHeaderBytes) {
                status_.count_drop(DropReason::malformed);
                continue;
            }
            const VnetHeader h =
                parse_vnet_header(std::span<const uint8_t, kVnetHeaderBytes>(at, kVnetHeaderBytes));
            const std::size_t len = frame - kVnetHeaderBytes;
            if (!h.is_gso()) {
                Packet* p = packets[n];
                const std::span<uint8_t> slot = p->reset().first(len);
                std::memcpy(slot.data(), area.data(), len);
                if (h.needs_csum() && !complete_checksum(h, slot)) {
                    status_.count_drop(DropReason::malformed);
                    continue;
                }
                p->set_size(len);
                ++n;
                continue;
            }
            const std::size_t need = gso_segments_needed(h, {area.data(), len});
            if (need == 0) {
                // Nothing to cut; the split says why (a bad packet, or an offload never asked for).
                const SplitResult why = gso_split(h, {area.data(), len}, {});
                status_.count_drop(why.status == SplitStatus::unsupported ? DropReason::unsupported
                                                                          : DropReason::malformed);
                continue;
            }
            scratch_->set_size(len);
            pending_header_ = h;
            pending_count_ = need;
            pending_next_ = 0;
            n += drain_pending(packets.subspan(n));
        }
        return n;
    }

    std::size_t write(std::span<Packet* const> packets) override {
        if (!vnet_) return write_plain(packets);
        coalesce_tcp(packets, writes_);
        if (udp_gro_) coalesce_udp(writes_);
        std::size_t n = 0;
        for (const TunWrite& w : writes_) {
            Packet& p = *w.packet;
            p.push_front(kVnetHeaderBytes);
            write_vnet_header(w.vnet,
                              std::span<uint8_t, kVnetHeaderBytes>(p.data(), kVnetHeaderBytes));
            if (::write(fd_.get(), p.data(), p.size()) == static_cast<ssize_t>(p.size())) {
                ++n;
                status_.tun_write_frames.add_owned();
                status_.tun_write_bytes.add_owned(p.size() - kVnetHeaderBytes);
            }
            p.pull_front(kVnetHeaderBytes);
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
    std::size_t read_plain(std::span<Packet* const> packets) {
        std::size_t n = 0;
        for (Packet* p : packets) {
            auto area = p->reset();
            const ssize_t got = ::read(fd_.get(), area.data(), area.size());
            if (got <= 0) break;
            p->set_size(static_cast<std::size_t>(got));
            status_.tun_read_frames.add_owned();
            status_.tun_read_bytes.add_owned(p->size());
            ++n;
        }
        return n;
    }

    std::size_t write_plain(std::span<Packet* const> packets) {
        std::size_t n = 0;
        for (Packet* p : packets) {
            if (::write(fd_.get(), p->data(), p->size()) == static_cast<ssize_t>(p->size())) {
                ++n;
                status_.tun_write_frames.add_owned();
                status_.tun_write_bytes.add_owned(p->size());
            }
        }
        return n;
    }

    // Moves as many segments of the pending super-packet as fit into packets.
    std::size_t drain_pending(std::span<Packet* const> packets) {
        if (pending_count_ == 0 || packets.empty()) return 0;
        const std::size_t take = std::min(packets.size(), pending_count_ - pending_next_);
        const SplitResult r =
            gso_split(pending_header_, scratch_->bytes(), packets.first(take), pending_next_);
        if (r.status != SplitStatus::ok) {
            status_.count_drop(r.status == SplitStatus::malformed ? DropReason::malformed
                                                                  : DropReason::unsupported);
            pending_count_ = 0;
            return 0;
        }
        pending_next_ += r.count;
        if (pending_next_ >= pending_count_) pending_count_ = 0;
        return r.count;
    }

    UniqueFd fd_;
    std::string name_;
    bool vnet_;
    bool udp_gro_;  // the kernel takes UDP super-packets
    DataplaneStatus& status_;
    std::unique_ptr<Packet> scratch_;  // a super-packet being cut
    VnetHeader pending_header_;
    std::size_t pending_count_ = 0;  // segments it gives; 0: none pending
    std::size_t pending_next_ = 0;   // the next one to hand out
    std::vector<TunWrite> writes_;
};

TunOffload offload_wanted() {
    const char* env = std::getenv("IPSECFS_TUN_OFFLOAD");
    if (env == nullptr) return TunOffload::tcp_udp;
    if (std::strcmp(env, "0") == 0) return TunOffload::none;
    return std::strcmp(env, "tcp") == 0 ? TunOffload::tcp : TunOffload::tcp_udp;
}

}  // namespace

std::unique_ptr<TunDevice> make_fd_tun(UniqueFd fd, std::string name, TunOffload offload,
                                       DataplaneStatus& status) {
    return std::make_unique<FdTun>(std::move(fd), std::move(name), offload, status);
}

namespace {

struct OpenedTun {
    UniqueFd fd;
    std::string name;
};

// TUNSETIFF, and with offloads the header size, byte order and offloads.
Result<OpenedTun> open_tun_fd(const std::string& name, TunOffload offload) {
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return fail(errno_text("open /dev/net/tun"));
    const bool vnet = offload != TunOffload::none;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0)
        return fail(errno_text("create TUN device " + name));
    if (vnet) {
        const int hdr = static_cast<int>(kVnetHeaderBytes);
        const int little_endian = 1;
        unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        if (offload == TunOffload::tcp_udp) offloads |= TUN_F_USO4 | TUN_F_USO6;
        if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) < 0 ||
            ::ioctl(fd.get(), TUNSETVNETLE, &little_endian) < 0 ||
            ::ioctl(fd.get(), TUNSETOFFLOAD, offloads) < 0) {
            return fail(errno_text("TUN offloads of " + name));
        }
    }
    return OpenedTun{std::move(fd), ifr.ifr_name};
}

}  // namespace

Result<std::unique_ptr<TunDevice>> open_linux_tun(const std::string& name,
                                                  DataplaneStatus& status) {
    if (name.empty() || name.size() >= IFNAMSIZ) return fail("bad TUN device name '" + name + "'");
    // A kernel without USO (before 6.2) refuses the whole TUNSETOFFLOAD: then TCP offloads only;
    // one without TUN offloads at all gets plain packets, one per read and write.
    TunOffload offload = offload_wanted();
    auto opened = open_tun_fd(name, offload);
    if (!opened && offload == TunOffload::tcp_udp) {
        offload = TunOffload::tcp;
        opened = open_tun_fd(name, offload);
    }
    if (!opened && offload != TunOffload::none) {
        offload = TunOffload::none;
        opened = open_tun_fd(name, offload);
    }
    if (!opened) return std::move(opened).take_error();
    const std::string actual = opened->name;

    ifreq up{};
    std::strncpy(up.ifr_name, actual.c_str(), IFNAMSIZ - 1);
    if (auto r = ifreq_ioctl(SIOCGIFFLAGS, up, "get flags of " + actual); !r)
        return std::move(r).take_error();
    up.ifr_flags = static_cast<short>(up.ifr_flags | IFF_UP | IFF_RUNNING);
    if (auto r = ifreq_ioctl(SIOCSIFFLAGS, up, "bring up " + actual); !r)
        return std::move(r).take_error();
    return make_fd_tun(std::move(opened->fd), actual, offload, status);
}

unsigned device_mtu(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return 0;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (!ifreq_ioctl(SIOCGIFMTU, ifr, "get MTU")) return 0;
    return static_cast<unsigned>(ifr.ifr_mtu);
}

}  // namespace ipsecfs::netpath
