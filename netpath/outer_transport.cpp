#include "netpath/outer_transport.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "netpath/ip_header.hpp"
#include "netpath/unique_fd.hpp"

namespace ipsecfs::netpath {
namespace {

constexpr int kSocketBuffer = 4 << 20;
// UDP GSO (udp(7), UDP_SEGMENT): the kernel of Linux 5.x takes at most 64 segments per send.
constexpr std::size_t kMaxGsoSegments = 64;
constexpr std::size_t kMaxGsoBytes = 65000;
// Raw ESP, AH and IPCOMP for each family, and UDP for each.
constexpr std::size_t kMaxRxSockets = 8;

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

enum class RxKind : uint8_t { raw4, raw6, udp4, udp6 };

struct RxSocket {
    UniqueFd fd;
    RxKind kind;
    uint8_t protocol;  // of raw sockets; ESP for UDP
};

Result<UniqueFd> open_socket(int family, int type, int protocol, const LinuxTransportOptions& o,
                             const std::string& what) {
    UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    if (!fd.valid()) return fail(errno_text("open " + what + " socket"));
    if (!o.bind_device.empty() &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, o.bind_device.c_str(),
                     static_cast<socklen_t>(o.bind_device.size())) < 0) {
        return fail(errno_text("bind " + what + " socket to " + o.bind_device));
    }
    int size = kSocketBuffer;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0) {
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    return fd;
}

class LinuxTransport final : public OuterTransport {
  public:
    explicit LinuxTransport(DataplaneStatus& status) : status_(status) {}

    Result<void> open(const LinuxTransportOptions& o) {
        natt_port_ = o.natt_port;
        const int one = 1;
        for (int proto : {kProtoEsp, kProtoAh, kProtoIpcomp}) {
            auto v4 = open_socket(AF_INET, SOCK_RAW, proto, o, "raw IPv4");
            if (!v4) return std::move(v4).take_error();
            rx_.push_back(RxSocket{std::move(*v4), RxKind::raw4, static_cast<uint8_t>(proto)});
            auto v6 = open_socket(AF_INET6, SOCK_RAW, proto, o, "raw IPv6");
            if (!v6) return std::move(v6).take_error();
            ::setsockopt(v6->get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
            rx_.push_back(RxSocket{std::move(*v6), RxKind::raw6, static_cast<uint8_t>(proto)});
        }
        auto raw4 = open_socket(AF_INET, SOCK_RAW, IPPROTO_RAW, o, "raw IPv4 send");
        if (!raw4) return std::move(raw4).take_error();
        raw4_tx_ = std::move(*raw4);
        auto raw6 = open_socket(AF_INET6, SOCK_RAW, IPPROTO_RAW, o, "raw IPv6 send");
        if (!raw6) return std::move(raw6).take_error();
        raw6_tx_ = std::move(*raw6);

        auto udp4 = open_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, o, "UDP IPv4");
        if (!udp4) return std::move(udp4).take_error();
        ::setsockopt(udp4->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ::setsockopt(udp4->get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        sockaddr_in a4{};
        a4.sin_family = AF_INET;
        a4.sin_port = htons(natt_port_);
        if (::bind(udp4->get(), reinterpret_cast<sockaddr*>(&a4), sizeof(a4)) < 0) {
            return fail(errno_text("bind UDP port " + std::to_string(natt_port_)));
        }
        udp4_ = udp4->get();
        rx_.push_back(RxSocket{std::move(*udp4), RxKind::udp4, kProtoEsp});

        auto udp6 = open_socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, o, "UDP IPv6");
        if (!udp6) return std::move(udp6).take_error();
        ::setsockopt(udp6->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ::setsockopt(udp6->get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        ::setsockopt(udp6->get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
        sockaddr_in6 a6{};
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(natt_port_);
        if (::bind(udp6->get(), reinterpret_cast<sockaddr*>(&a6), sizeof(a6)) < 0) {
            return fail(errno_text("bind UDP port " + std::to_string(natt_port_) + " (IPv6)"));
        }
        udp6_ = udp6->get();
        rx_.push_back(RxSocket{std::move(*udp6), RxKind::udp6, kProtoEsp});
        enable_gro();

        epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
        if (!epoll_.valid()) return fail(errno_text("epoll_create1"));
        for (std::size_t i = 0; i < rx_.size(); ++i) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = static_cast<uint32_t>(i);
            if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, rx_[i].fd.get(), &ev) < 0)
                return fail(errno_text("epoll_ctl"));
        }
        return {};
    }

    // One fd for the worker's wait, readable while any socket has something queued: the worker
    // wakes with one fd to check instead of eight, and receive() learns which sockets are ready
    // without asking each of them.
    int poll_fd() const override { return epoll_.get(); }

    std::size_t receive(std::span<Packet* const> packets) override {
        // The epoll set names the sockets with something queued instead of a recvmmsg() per
        // socket; they are read in rotation, so no socket starves another (level-triggered epoll
        // reports a socket left unread again, in its own order).
        std::size_t n = drain_coalesced(packets);
        if (n == packets.size()) return n;
        std::array<epoll_event, kMaxRxSockets> events;
        const int k = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(rx_.size()), 0);
        if (k <= 0) return n;
        std::array<bool, kMaxRxSockets> ready{};
        for (int e = 0; e < k; ++e)
            ready[events[e].data.u32] = true;
        for (std::size_t round = 0; round < rx_.size() && n < packets.size(); ++round) {
            const std::size_t i = next_rx_;
            next_rx_ = (next_rx_ + 1) % rx_.size();
            if (!ready[i]) continue;
            const bool udp = rx_[i].kind == RxKind::udp4 || rx_[i].kind == RxKind::udp6;
            n += (udp && gro_) ? receive_coalesced(rx_[i], packets.subspan(n))
                               : receive_from(rx_[i], packets.subspan(n));
        }
        return n;
    }

    std::size_t send(std::span<Packet* const> packets) override {
        std::size_t sent = 0;
        std::size_t i = 0;
        while (i < packets.size()) {
            // Runs of packets for the same socket go out in one sendmmsg.
            const int fd = tx_fd(*packets[i]);
            std::size_t j = i;
            while (j < packets.size() && j - i < kBatchSize && tx_fd(*packets[j]) == fd)
                ++j;
            sent += send_run(fd, packets.subspan(i, j - i), gso_enabled_);
            i = j;
        }
        return sent;
    }

  private:
    struct MsgSlot {
        sockaddr_in6 addr;
        iovec iov;
        alignas(cmsghdr) std::array<uint8_t, 64> control;
    };

    int tx_fd(const Packet& p) const {
        if (p.outer.kind == OuterKind::udp) return p.outer.dst.is_v4() ? udp4_ : udp6_;
        return p.outer.dst.is_v4() ? raw4_tx_.get() : raw6_tx_.get();
    }

    std::size_t receive_from(RxSocket& s, std::span<Packet* const> packets) {
        const std::size_t want = std::min(packets.size(), kBatchSize);
        std::array<mmsghdr, kBatchSize> msgs{};
        std::array<MsgSlot, kBatchSize> slots;
        // Room in front for the header we rebuild (IPv6 raw, UDP).
        const std::size_t front = (s.kind == RxKind::raw4) ? 0 : kIpv6HeaderBytes;
        for (std::size_t i = 0; i < want; ++i) {
            auto area = packets[i]->reset();
            slots[i].iov = {area.data() + front, area.size() - front};
            msgs[i].msg_hdr.msg_name = &slots[i].addr;
            msgs[i].msg_hdr.msg_namelen = sizeof(slots[i].addr);
            msgs[i].msg_hdr.msg_iov = &slots[i].iov;
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = slots[i].control.data();
            msgs[i].msg_hdr.msg_controllen = slots[i].control.size();
        }
        const int got =
            ::recvmmsg(s.fd.get(), msgs.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
        if (got <= 0) return 0;
        std::size_t kept = 0;
        for (int i = 0; i < got; ++i) {
            Packet& p = *packets[kept];
            const std::size_t len = msgs[static_cast<std::size_t>(i)].msg_len;
            if (s.kind != RxKind::raw4 && kept != static_cast<std::size_t>(i)) {
                // Keep the packet slots dense: a dropped datagram's slot is reused.
                std::memmove(p.data() + front, packets[static_cast<std::size_t>(i)]->data() + front,
                             len);
            }
            if (finish(s, msgs[static_cast<std::size_t>(i)].msg_hdr, p, len)) ++kept;
        }
        return kept;
    }

    // Both UDP sockets coalesce, or neither does.
    void enable_gro() {
        const int one = 1;
        gro_ = ::setsockopt(udp4_, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0 &&
               ::setsockopt(udp6_, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
        if (!gro_) {
            const int zero = 0;
            ::setsockopt(udp4_, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
            ::setsockopt(udp6_, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
        }
    }

    // With UDP_GRO (udp(7)) the kernel queues a run of datagrams from one peer as one buffer,
    // each gso_size bytes but the last: one recvmsg() takes up to 64 KB. The buffer is kept and
    // cut into datagrams as slots come free.
    std::size_t receive_coalesced(RxSocket& s, std::span<Packet* const> packets) {
        Coalesced& c = coalesced_;
        auto area = c.buffer->reset();
        c.iov = {area.data(), area.size()};
        c.hdr = msghdr{};
        c.hdr.msg_name = &c.addr;
        c.hdr.msg_namelen = sizeof(c.addr);
        c.hdr.msg_iov = &c.iov;
        c.hdr.msg_iovlen = 1;
        c.hdr.msg_control = c.control.data();
        c.hdr.msg_controllen = c.control.size();
        const ssize_t got = ::recvmsg(s.fd.get(), &c.hdr, MSG_DONTWAIT);
        if (got <= 0) return 0;
        c.len = static_cast<std::size_t>(got);
        c.segment = c.len;
        for (cmsghdr* m = CMSG_FIRSTHDR(&c.hdr); m; m = CMSG_NXTHDR(&c.hdr, m)) {
            if (m->cmsg_level == SOL_UDP && m->cmsg_type == UDP_GRO) {
                int size = 0;
                std::memcpy(&size, CMSG_DATA(m), sizeof(size));
                if (size > 0) c.segment = std::min(c.len, static_cast<std::size_t>(size));
            }
        }
        c.socket = &s;
        c.offset = 0;
        return drain_coalesced(packets);
    }

    // Hands out the datagrams left in the coalesced buffer, each as a full IP packet.
    std::size_t drain_coalesced(std::span<Packet* const> packets) {
        Coalesced& c = coalesced_;
        std::size_t n = 0;
        while (c.socket != nullptr && n < packets.size()) {
            const std::size_t len = std::min(c.segment, c.len - c.offset);
            Packet& p = *packets[n];
            auto area = p.reset();
            std::memcpy(area.data() + kIpv6HeaderBytes, c.buffer->data() + c.offset, len);
            if (finish(*c.socket, c.hdr, p, len)) ++n;
            c.offset += len;
            if (c.offset >= c.len) c.socket = nullptr;
        }
        return n;
    }

    // Turns a received datagram into a full IP packet with pkt.outer set.
    bool finish(const RxSocket& s, const msghdr& h, Packet& p, std::size_t len) {
        const RxKind kind = s.kind;
        p.outer = OuterInfo{};
        if (kind == RxKind::raw4) {
            p.set_size(len);
            p.outer.kind = OuterKind::raw;
            return true;
        }
        IpAddress src, dst;
        uint16_t sport = 0;
        const auto* sa = static_cast<const sockaddr*>(h.msg_name);
        if (sa->sa_family == AF_INET) {
            const auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
            src = IpAddress::v4(
                std::span<const uint8_t, 4>(reinterpret_cast<const uint8_t*>(&s4->sin_addr), 4));
            sport = ntohs(s4->sin_port);
        } else {
            const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
            src = IpAddress::v6(std::span<const uint8_t, 16>(s6->sin6_addr.s6_addr, 16));
            sport = ntohs(s6->sin6_port);
        }
        bool have_dst = false;
        for (const cmsghdr* c = CMSG_FIRSTHDR(&h); c;
             c = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(c))) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                in_pktinfo info;
                std::memcpy(&info, CMSG_DATA(c), sizeof(info));
                dst = IpAddress::v4(std::span<const uint8_t, 4>(
                    reinterpret_cast<const uint8_t*>(&info.ipi_addr), 4));
                have_dst = true;
            } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                in6_pktinfo info;
                std::memcpy(&info, CMSG_DATA(c), sizeof(info));
                dst = IpAddress::v6(std::span<const uint8_t, 16>(info.ipi6_addr.s6_addr, 16));
                have_dst = true;
            }
        }
        if (!have_dst) {
            status_.count_drop(DropReason::malformed);
            return false;
        }
        const uint8_t* body = p.data() + kIpv6HeaderBytes;
        const uint8_t protocol = s.protocol;
        if (kind != RxKind::raw6) {
            // RFC 3948 §2.2/§2.3: a NAT keepalive is the single byte 0xff; a non-ESP marker
            // (four zero bytes) starts an IKE message. Neither is ours to process.
            if (len == 1 && body[0] == 0xff) {
                status_.count_drop(DropReason::not_esp);
                return false;
            }
            if (len < 8 || (body[0] == 0 && body[1] == 0 && body[2] == 0 && body[3] == 0)) {
                status_.count_drop(DropReason::not_esp);
                return false;
            }
            p.outer.kind = OuterKind::udp;
            p.outer.sport = sport;
            p.outer.dport = natt_port_;
        }
        const std::size_t hlen = dst.is_v4() ? kIpv4HeaderBytes : kIpv6HeaderBytes;
        p.set_view(p.offset() + kIpv6HeaderBytes - hlen, hlen + len);
        write_ip_header(p.data(), src, dst, protocol, len, 0);
        p.outer.src = src;
        p.outer.dst = dst;
        return true;
    }

    // Fills slot with the destination of p and, for UDP from a given source, its IP_PKTINFO /
    // IPV6_PKTINFO; returns the control bytes used.
    static std::size_t address_slot(const Packet& p, MsgSlot& s, socklen_t& alen) {
        std::memset(&s.addr, 0, sizeof(s.addr));
        const uint16_t port = htons(p.outer.kind == OuterKind::udp ? p.outer.dport : 0);
        if (p.outer.dst.is_v4()) {
            auto* a = reinterpret_cast<sockaddr_in*>(&s.addr);
            a->sin_family = AF_INET;
            a->sin_port = port;
            std::memcpy(&a->sin_addr, p.outer.dst.data(), 4);
            alen = sizeof(sockaddr_in);
        } else {
            s.addr.sin6_family = AF_INET6;
            s.addr.sin6_port = port;
            std::memcpy(&s.addr.sin6_addr, p.outer.dst.data(), 16);
            alen = sizeof(sockaddr_in6);
        }
        if (p.outer.kind != OuterKind::udp || p.outer.src.is_unspecified()) return 0;
        auto* c = reinterpret_cast<cmsghdr*>(s.control.data());
        if (p.outer.dst.is_v4()) {
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
            in_pktinfo info{};
            std::memcpy(&info.ipi_spec_dst, p.outer.src.data(), 4);
            std::memcpy(CMSG_DATA(c), &info, sizeof(info));
            return CMSG_SPACE(sizeof(in_pktinfo));
        }
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
        in6_pktinfo info{};
        std::memcpy(&info.ipi6_addr, p.outer.src.data(), 16);
        std::memcpy(CMSG_DATA(c), &info, sizeof(info));
        return CMSG_SPACE(sizeof(in6_pktinfo));
    }

    // How many packets from run[i] on can leave as one UDP GSO datagram: same peer and source,
    // all as long as the first but the last, which may be shorter (the kernel cuts the payload
    // every gso_size bytes), at most kMaxGsoSegments and 64 KB in all.
    static std::size_t gso_run_length(std::span<Packet* const> run, std::size_t i) {
        const Packet& first = *run[i];
        std::size_t j = i + 1;
        std::size_t total = first.size();
        while (j < run.size() && j - i < kMaxGsoSegments) {
            const Packet& p = *run[j];
            if (p.size() > first.size() || total + p.size() > kMaxGsoBytes ||
                p.outer.dst != first.outer.dst || p.outer.dport != first.outer.dport ||
                p.outer.src != first.outer.src) {
                break;
            }
            total += p.size();
            ++j;
            if (p.size() < first.size()) break;
        }
        return j - i;
    }

    // gso: runs of UDP packets may leave as one UDP_SEGMENT send.
    std::size_t send_run(int fd, std::span<Packet* const> run, bool gso) {
        std::array<mmsghdr, kBatchSize> msgs{};
        std::array<MsgSlot, kBatchSize> slots;
        std::array<iovec, kBatchSize> iovs;
        std::array<std::size_t, kBatchSize> first_packet;  // of each message
        gso = gso && (fd == udp4_ || fd == udp6_);
        std::size_t nmsg = 0;
        for (std::size_t i = 0; i < run.size();) {
            const std::size_t count = gso ? gso_run_length(run, i) : 1;
            MsgSlot& s = slots[nmsg];
            msghdr& h = msgs[nmsg].msg_hdr;
            socklen_t alen = 0;
            std::size_t control = address_slot(*run[i], s, alen);
            for (std::size_t k = 0; k < count; ++k)
                iovs[i + k] = {const_cast<uint8_t*>(run[i + k]->data()), run[i + k]->size()};
            if (count > 1) {
                auto* c = reinterpret_cast<cmsghdr*>(s.control.data() + control);
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                const auto size = static_cast<uint16_t>(run[i]->size());
                std::memcpy(CMSG_DATA(c), &size, sizeof(size));
                control += CMSG_SPACE(sizeof(uint16_t));
            }
            h.msg_name = &s.addr;
            h.msg_namelen = alen;
            h.msg_iov = &iovs[i];
            h.msg_iovlen = count;
            if (control > 0) {
                h.msg_control = s.control.data();
                h.msg_controllen = control;
            }
            first_packet[nmsg] = i;
            ++nmsg;
            i += count;
        }
        std::size_t done = 0;
        std::size_t sent = 0;
        while (done < nmsg) {
            const int n = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(nmsg - done), 0);
            if (n > 0) {
                for (std::size_t k = done; k < done + static_cast<std::size_t>(n); ++k)
                    sent += msgs[k].msg_hdr.msg_iovlen;
                done += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            const std::size_t packets = msgs[done].msg_hdr.msg_iovlen;
            if (packets > 1) {
                // The device or path cannot take UDP GSO (EIO: no checksum offload; EINVAL: a
                // segment above the path MTU): these packets go one by one, and after EIO so
                // does everything else.
                if (errno == EIO) gso_enabled_ = false;
                sent += send_run(fd, run.subspan(first_packet[done], packets), false);
                ++done;
                continue;
            }
            // Skip the packet the kernel refused (e.g. no route, EMSGSIZE) and go on.
            status_.count_drop(DropReason::tx_error);
            ++done;
        }
        return sent;
    }

    struct Coalesced {
        std::unique_ptr<Packet> buffer = std::make_unique<Packet>();
        iovec iov{};
        msghdr hdr{};
        sockaddr_in6 addr{};
        alignas(cmsghdr) std::array<uint8_t, 128> control{};
        std::size_t len = 0;
        std::size_t segment = 0;
        std::size_t offset = 0;            // of the next datagram in buffer
        const RxSocket* socket = nullptr;  // nullptr: nothing left
    };

    DataplaneStatus& status_;
    Coalesced coalesced_;
    bool gro_ = false;
    std::vector<RxSocket> rx_;
    std::size_t next_rx_ = 0;
    UniqueFd epoll_;  // rx_'s sockets, for their readiness
    UniqueFd raw4_tx_;
    UniqueFd raw6_tx_;
    int udp4_ = -1;
    int udp6_ = -1;
    uint16_t natt_port_ = 4500;
    bool gso_enabled_ = true;
};

}  // namespace

Result<std::unique_ptr<OuterTransport>> open_linux_transport(const LinuxTransportOptions& options,
                                                             DataplaneStatus& status) {
    auto t = std::make_unique<LinuxTransport>(status);
    if (auto r = t->open(options); !r) return std::move(r).take_error();
    return std::unique_ptr<OuterTransport>(std::move(t));
}

}  // namespace ipsecfs::netpath
