// SA groups of several transforms (tun, comp, esp, ah in KLIPS order) between two gateways'
// processors back to back, in memory: what left protects, right opens, and the other way.

#include <zlib.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "netpath/ah_packet.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"
#include "netpath/processor.hpp"
#include "netpath/sa_state.hpp"
#include "tests/support/two_gateways.hpp"

#include "tests/support/vectors.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;
using ipsecfs::testing::apply_or_throw;

namespace {

using Bytes = std::vector<uint8_t>;

// Which transforms a group has; empty esp/ah: none.
struct GroupSpec {
    bool tunnel = true;
    bool comp = false;
    std::string esp;
    std::string ah;
    bool ipv6 = false;
    bool esn = false;
};

enum class Kind { tun = 1, comp = 2, esp = 3, ah = 4 };

// Traffic left→right uses SPIs 0x1001 (tun), 0x1002 (comp), 0x1003 (esp), 0x1004 (ah) at right;
// right→left the same from 0x2001 at left.
std::string said_of(const GroupSpec& spec, Kind k, unsigned base, const std::string& dst) {
    static constexpr const char* kNames[] = {"", "tun", "comp", "esp", "ah"};
    char spi[16];
    std::snprintf(spi, sizeof(spi), "%x", base + static_cast<unsigned>(k));
    return std::string(kNames[static_cast<int>(k)]) + (spec.ipv6 ? ":" : ".") + spi + "@" + dst;
}

std::vector<Kind> kinds_of(const GroupSpec& spec) {
    std::vector<Kind> k;
    if (spec.tunnel) k.push_back(Kind::tun);
    if (spec.comp) k.push_back(Kind::comp);
    if (!spec.esp.empty()) k.push_back(Kind::esp);
    if (!spec.ah.empty()) k.push_back(Kind::ah);
    return k;
}

// Inner to outer, as spigrp takes them.
std::vector<std::string> group_saids(const GroupSpec& spec, unsigned base, const std::string& dst) {
    std::vector<std::string> s;
    for (Kind k : kinds_of(spec))
        s.push_back(said_of(spec, k, base, dst));
    return s;
}

std::vector<std::string> sa_args(const GroupSpec& spec, Kind k, unsigned base,
                                 const std::string& src, const std::string& dst) {
    std::vector<std::string> a = {"spi", "--said", said_of(spec, k, base, dst), "--src", src};
    switch (k) {
        case Kind::tun:
            a.insert(a.end(), {spec.ipv6 ? "--ip6" : "--ip4", "--dst", dst});
            break;
        case Kind::comp:
            a.insert(a.end(), {"--comp", "deflate"});
            break;
        case Kind::esp: {
            ipsecfs::testing::TunnelSpec t;
            t.esp = spec.esp;
            t.esn = spec.esn;
            const auto o = ipsecfs::testing::esp_options(t, base);
            a.insert(a.end(), o.begin(), o.end());
            break;
        }
        case Kind::ah:
            a.insert(a.end(), {"--ah", spec.ah, "--authkey",
                               ipsecfs::testing::hex_key(auth_key_bytes(*parse_ah_name(spec.ah)),
                                                         base + 7)});
            if (spec.esn) a.push_back("--esn");
            break;
    }
    return a;
}

std::string my_net(const GroupSpec& spec, bool left) {
    if (spec.ipv6) return left ? "2001:db8:1::/48" : "2001:db8:2::/48";
    return left ? "198.51.100.0/24" : "203.0.113.0/24";
}

struct Side {
    ipsecfs::testing::Gateway gw;
    DataplaneStatus status;
    Processor proc{status};
    explicit Side(const std::string& addr) : gw(ipsecfs::testing::make_gateway(addr)) {}
};

// Both gateways with one group each way, like KLIPS's `ipsec spigrp` and eroutes.
struct Rig {
    GroupSpec spec;
    Side left, right;

    explicit Rig(const GroupSpec& s)
        : spec(s),
          left(s.ipv6 ? "2001:db8::1" : "192.0.2.1"),
          right(s.ipv6 ? "2001:db8::2" : "192.0.2.2") {
        configure(left, right, true);
        configure(right, left, false);
    }

    static unsigned out_base(bool left) { return left ? 0x1000 : 0x2000; }

    void configure(Side& self, const Side& peer, bool is_left) {
        Sadb& db = *self.gw.sadb;
        const std::string& me = self.gw.addr;
        const std::string& them = peer.gw.addr;
        for (const bool out : {true, false}) {
            const unsigned base = out ? out_base(is_left) : out_base(!is_left);
            const std::string& src = out ? me : them;
            const std::string& dst = out ? them : me;
            for (Kind k : kinds_of(spec))
                apply_or_throw(db, sa_args(spec, k, base, src, dst));
            auto saids = group_saids(spec, base, dst);
            if (saids.size() > 1) {
                std::vector<std::string> g = {"spigrp", "--said"};
                g.insert(g.end(), saids.begin(), saids.end());
                apply_or_throw(db, g);
            }
            if (spec.tunnel) {
                const std::string mine = my_net(spec, is_left);
                const std::string theirs = my_net(spec, !is_left);
                apply_or_throw(
                    db, {"eroute", out ? "--add" : "--addin", "--src", out ? mine : theirs, "--dst",
                         out ? theirs : mine, "--said", saids.front()});
            } else if (out) {
                const std::string bits = spec.ipv6 ? "/128" : "/32";
                apply_or_throw(db, {"eroute", "--add", "--src", me + bits, "--dst", them + bits,
                                    "--said", saids.front()});
            }
        }
    }

    // Addresses a packet from `from`'s side to the other side uses.
    std::pair<std::string, std::string> hosts(bool from_left) const {
        std::string a, b;
        if (!spec.tunnel) {
            a = left.gw.addr, b = right.gw.addr;
        } else if (spec.ipv6) {
            a = "2001:db8:1::10", b = "2001:db8:2::20";
        } else {
            a = "198.51.100.10", b = "203.0.113.20";
        }
        return from_left ? std::pair{a, b} : std::pair{b, a};
    }

    Outcome send(bool from_left, Packet& p, Bytes* wire = nullptr) {
        Side& tx = from_left ? left : right;
        Side& rx = from_left ? right : left;
        auto ts = tx.gw.sadb->snapshot();
        auto out = tx.proc.outbound(*ts, p, 5'000'000'000);
        if (!out.ok) return out;
        if (wire) wire->assign(p.data(), p.data() + p.size());
        auto rs = rx.gw.sadb->snapshot();
        return rx.proc.inbound(*rs, p, 6'000'000'000);
    }

    const Sa& sa(bool on_left, Kind k, bool outbound_of_left) const {
        const Side& s = on_left ? left : right;
        const std::string dst = outbound_of_left ? right.gw.addr : left.gw.addr;
        auto snap = s.gw.sadb->snapshot();
        const Sa* found =
            snap->find(*Said::parse(said_of(spec, k, out_base(outbound_of_left), dst)));
        REQUIRE(found != nullptr);
        return *found;
    }
};

Bytes text_payload(std::size_t n) {
    static constexpr char kText[] = "ipsec_spi: esp.1000@192.0.2.2 ESP_AES_HMAC_SHA1: dir=out ";
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<uint8_t>(kText[i % (sizeof(kText) - 1)]);
    return b;
}

Bytes random_payload(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& x : b)
        x = static_cast<uint8_t>(rng());
    return b;
}

void make_udp(Packet& p, const std::string& src, const std::string& dst, const Bytes& payload) {
    auto s = *IpAddress::parse(src);
    auto d = *IpAddress::parse(dst);
    auto area = p.reset();
    const std::size_t len = payload.size();
    const std::size_t hlen = write_ip_header(area.data(), s, d, kProtoUdp, 8 + len, 0x28);
    uint8_t* udp = area.data() + hlen;
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x30, udp[3] = 0x3a;
    udp[4] = static_cast<uint8_t>((8 + len) >> 8), udp[5] = static_cast<uint8_t>(8 + len);
    udp[6] = udp[7] = 0;
    if (len != 0) std::memcpy(udp + 8, payload.data(), len);
    p.set_size(hlen + 8 + len);
}

Bytes bytes_of(const Packet& p) {
    return {p.data(), p.data() + p.size()};
}

std::unique_ptr<Packet> packet_of(const Bytes& b) {
    auto p = std::make_unique<Packet>();
    auto area = p->reset();
    std::copy(b.begin(), b.end(), area.begin());
    p->set_size(b.size());
    return p;
}

using ipsecfs::testing::hex;

std::vector<ipsecfs::testing::VectorFields> load_group_vectors() {
    return ipsecfs::testing::load_vector_file("ah/group_vectors.txt");
}

uint64_t drops(const DataplaneStatus& s, DropReason r) {
    return s.drops[static_cast<std::size_t>(r)].get();
}

uint64_t drops(const Sa& sa, DropReason r) {
    return sa.counters().drops[static_cast<std::size_t>(r)].get();
}

struct Shape {
    const char* name;
    GroupSpec spec;
};

GroupSpec shape(bool tunnel, bool comp, std::string esp, std::string ah) {
    GroupSpec s;
    s.tunnel = tunnel;
    s.comp = comp;
    s.esp = std::move(esp);
    s.ah = std::move(ah);
    return s;
}

const std::vector<Shape>& shapes() {
    static const std::vector<Shape> all = {
        {"tun+ah", shape(true, false, "", "hmac-sha1-96")},
        {"tun+esp+ah", shape(true, false, "aes128-sha1-96", "hmac-sha2_256-128")},
        {"tun+comp+esp", shape(true, true, "aes128gcm16", "")},
        {"tun+comp+esp+ah", shape(true, true, "aes128-sha2_256-128", "hmac-md5-96")},
        {"transport esp+ah", shape(false, false, "aes128gcm16", "hmac-sha1-96")},
        {"transport ah", shape(false, false, "", "hmac-sha2_256-128")},
        {"transport comp+esp+ah", shape(false, true, "chacha20poly1305", "hmac-sha1-96")},
    };
    return all;
}

// The protocol a protected packet leaves with, its group's outermost transform.
uint8_t outer_protocol(const Bytes& wire) {
    const auto ip = parse_ip(wire);
    REQUIRE(ip);
    return ip->protocol;
}

}  // namespace

TEST_CASE("every group shape carries traffic both ways", "[groups][processor]") {
    const std::size_t which = GENERATE(range(std::size_t{0}, std::size_t{7}));
    const bool ipv6 = GENERATE(false, true);
    const Shape& sh = shapes()[which];
    GroupSpec spec = sh.spec;
    spec.ipv6 = ipv6;
    CAPTURE(sh.name, ipv6);
    Rig rig(spec);
    const std::vector<Bytes> payloads = {Bytes{}, text_payload(10), text_payload(200),
                                         text_payload(1300), random_payload(1300, 1)};
    std::size_t sent_bytes[2] = {0, 0};
    auto p = std::make_unique<Packet>();
    for (const bool from_left : {true, false}) {
        const auto [src, dst] = rig.hosts(from_left);
        for (const Bytes& payload : payloads) {
            INFO("from left " << from_left << " payload " << payload.size());
            make_udp(*p, src, dst, payload);
            const Bytes clear = bytes_of(*p);
            Bytes wire;
            const Outcome r = rig.send(from_left, *p, &wire);
            INFO("reason " << drop_reason_name(r.reason));
            REQUIRE(r.ok);
            CHECK(bytes_of(*p) == clear);
            sent_bytes[from_left ? 0 : 1] += clear.size();

            // The outermost layer is on the wire; the packet grew by no more than the overheads.
            // Text of 200 bytes and more compresses; random bytes and small packets do not.
            uint8_t want = spec.tunnel ? (ipv6 ? kProtoIpv6 : kProtoIpip) : kProtoUdp;
            if (!spec.ah.empty()) {
                want = kProtoAh;
            } else if (!spec.esp.empty()) {
                want = kProtoEsp;
            } else if (spec.comp && payload.size() >= 200 &&
                       payload == text_payload(payload.size())) {
                want = kProtoIpcomp;
            }
            CHECK(outer_protocol(wire) == want);
            std::size_t overhead = 0;
            for (Kind k : kinds_of(spec)) {
                const Sa& s = rig.sa(from_left, k, from_left);
                overhead += state_of(s)->overhead(ipv6 ? Family::v6 : Family::v4);
            }
            CHECK(wire.size() <= clear.size() + overhead);
        }
    }
    // Every SA of both groups counted every packet and the same bytes at both ends.
    for (const bool left_to_right : {true, false}) {
        for (Kind k : kinds_of(spec)) {
            INFO("left to right " << left_to_right << " kind " << static_cast<int>(k));
            const Sa& out = rig.sa(left_to_right, k, left_to_right);
            const Sa& in = rig.sa(!left_to_right, k, left_to_right);
            CHECK(out.config().dir == Direction::out);
            CHECK(in.config().dir == Direction::in);
            CHECK(out.counters().packets.get() == payloads.size());
            CHECK(in.counters().packets.get() == payloads.size());
            CHECK(out.counters().bytes.get() == sent_bytes[left_to_right ? 0 : 1]);
            CHECK(in.counters().bytes.get() == out.counters().bytes.get());
            if (k == Kind::esp || k == Kind::ah) {
                CHECK(out.counters().seq.get() == payloads.size());
                CHECK(in.counters().seq.get() == payloads.size());
            }
            if (k == Kind::comp) {
                CHECK(in.counters().comp_uncompressed.get() ==
                      out.counters().comp_uncompressed.get());
                CHECK(in.counters().comp_compressed.get() == out.counters().comp_compressed.get());
                CHECK(out.counters().comp_compressed.get() <
                      out.counters().comp_uncompressed.get());
            }
        }
    }
}

TEST_CASE("ratio= counts the datagrams IPCOMP compressed, the same at both ends",
          "[groups][ipcomp]") {
    GroupSpec spec = shape(true, true, "aes128gcm16", "hmac-sha1-96");
    spec.ipv6 = GENERATE(false, true);
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    const auto [src, dst] = rig.hosts(true);
    std::size_t compressible_in = 0;
    for (int i = 0; i < 5; ++i) {
        make_udp(*p, src, dst, text_payload(1000 + static_cast<std::size_t>(i)));
        compressible_in += p->size();  // the payload IPCOMP sees: the whole inner packet
        REQUIRE(rig.send(true, *p).ok);
    }
    for (int i = 0; i < 3; ++i) {
        make_udp(*p, src, dst, text_payload(20));  // below the threshold with its headers
        REQUIRE(rig.send(true, *p).ok);
    }
    for (unsigned i = 0; i < 2; ++i) {
        make_udp(*p, src, dst, random_payload(900, i));
        REQUIRE(rig.send(true, *p).ok);
    }
    const Sa& out = rig.sa(true, Kind::comp, true);
    const Sa& in = rig.sa(false, Kind::comp, true);
    CHECK(out.counters().comp_uncompressed.get() == compressible_in);
    CHECK(in.counters().comp_uncompressed.get() == compressible_in);
    CHECK(out.counters().comp_compressed.get() == in.counters().comp_compressed.get());
    CHECK(out.counters().comp_compressed.get() > 0);
    CHECK(out.counters().comp_compressed.get() * 4 < compressible_in);
    // Use counters include the datagrams that went uncompressed.
    CHECK(out.counters().packets.get() == 10);
    CHECK(in.counters().packets.get() == 10);
}

TEST_CASE("deleting one SA of a group drops its packets until it is added again", "[groups]") {
    const Kind gone = GENERATE(Kind::tun, Kind::comp, Kind::esp, Kind::ah);
    const bool on_sender = GENERATE(true, false);
    CAPTURE(static_cast<int>(gone), on_sender);
    GroupSpec spec = shape(true, true, "aes128-sha1-96", "hmac-sha1-96");
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    const auto [src, dst] = rig.hosts(true);
    for (int i = 0; i < 3; ++i) {
        make_udp(*p, src, dst, text_payload(500));
        REQUIRE(rig.send(true, *p).ok);
    }
    Side& side = on_sender ? rig.left : rig.right;
    const unsigned base = Rig::out_base(true);
    const std::string said = said_of(spec, gone, base, rig.right.gw.addr);
    apply_or_throw(*side.gw.sadb, {"spi", "--said", said, "--del"});
    // The SA the eroute (sender) or the outer header (receiver) names is simply gone: no_sa.
    // Any other member: the group is down.
    const bool named = on_sender ? gone == Kind::tun : gone == Kind::ah;
    const DropReason want = named ? DropReason::no_sa : DropReason::group_incomplete;
    for (int i = 0; i < 3; ++i) {
        make_udp(*p, src, dst, text_payload(500));
        const Outcome r = rig.send(true, *p);
        CHECK_FALSE(r.ok);
        CHECK(r.reason == want);
    }
    CHECK(drops(side.status, want) == 3);

    // Added again (a sender's ESP/AH SA past the numbers it used), the group works again.
    auto args = sa_args(spec, gone, base, rig.left.gw.addr, rig.right.gw.addr);
    if (on_sender && (gone == Kind::esp || gone == Kind::ah))
        args.insert(args.end(), {"--seq", "100"});
    apply_or_throw(*side.gw.sadb, args);
    make_udp(*p, src, dst, text_payload(500));
    const Bytes clear = bytes_of(*p);
    REQUIRE(rig.send(true, *p).ok);
    CHECK(bytes_of(*p) == clear);
}

TEST_CASE("a packet less protected than its group requires is dropped", "[groups]") {
    SECTION("only the ESP layer of a transport esp+ah group") {
        GroupSpec spec = shape(false, false, "aes128gcm16", "hmac-sha1-96");
        Rig rig(spec);
        const std::string esp = said_of(spec, Kind::esp, 0x1000, rig.right.gw.addr);
        apply_or_throw(*rig.left.gw.sadb, {"spigrp", "--said", esp});  // left forgets AH
        auto p = std::make_unique<Packet>();
        const auto [src, dst] = rig.hosts(true);
        make_udp(*p, src, dst, text_payload(100));
        Bytes wire;
        const Outcome r = rig.send(true, *p, &wire);
        CHECK(outer_protocol(wire) == kProtoEsp);
        CHECK(r.reason == DropReason::group_incomplete);
        CHECK(drops(rig.sa(false, Kind::esp, true), DropReason::group_incomplete) == 1);
        CHECK(drops(rig.right.status, DropReason::group_incomplete) == 1);
        CHECK(rig.sa(false, Kind::esp, true).counters().packets.get() == 0);
    }
    SECTION("only the AH layer of a transport esp+ah group") {
        GroupSpec spec = shape(false, false, "aes128gcm16", "hmac-sha1-96");
        Rig rig(spec);
        const std::string ah = said_of(spec, Kind::ah, 0x1000, rig.right.gw.addr);
        apply_or_throw(*rig.left.gw.sadb, {"spigrp", "--said", ah});
        apply_or_throw(*rig.left.gw.sadb, {"eroute", "--replace", "--src", "192.0.2.1/32", "--dst",
                                           "192.0.2.2/32", "--said", ah});
        auto p = std::make_unique<Packet>();
        make_udp(*p, "192.0.2.1", "192.0.2.2", text_payload(100));
        Bytes wire;
        const Outcome r = rig.send(true, *p, &wire);
        CHECK(outer_protocol(wire) == kProtoAh);
        CHECK(r.reason == DropReason::group_incomplete);
    }
    SECTION("a tun+esp+ah group's packet without AH") {
        GroupSpec spec = shape(true, false, "aes128gcm16", "hmac-sha1-96");
        Rig rig(spec);
        apply_or_throw(*rig.left.gw.sadb,
                       {"spigrp", "--said", said_of(spec, Kind::tun, 0x1000, rig.right.gw.addr),
                        said_of(spec, Kind::esp, 0x1000, rig.right.gw.addr)});
        auto p = std::make_unique<Packet>();
        const auto [src, dst] = rig.hosts(true);
        make_udp(*p, src, dst, text_payload(100));
        CHECK(rig.send(true, *p).reason == DropReason::group_incomplete);
    }
    SECTION("an IPCOMP layer under another CPI") {
        GroupSpec spec = shape(true, true, "aes128gcm16", "");
        Rig rig(spec);
        Sadb& db = *rig.left.gw.sadb;
        const std::string& r = rig.right.gw.addr;
        apply_or_throw(
            db, {"spi", "--said", "comp.1009@" + r, "--src", "192.0.2.1", "--comp", "deflate"});
        apply_or_throw(db, {"spigrp", "--said", said_of(spec, Kind::tun, 0x1000, r),
                            "comp.1009@" + r, said_of(spec, Kind::esp, 0x1000, r)});
        auto p = std::make_unique<Packet>();
        const auto [src, dst] = rig.hosts(true);
        make_udp(*p, src, dst, text_payload(1000));
        CHECK(rig.send(true, *p).reason == DropReason::group_incomplete);
        // Uncompressed, the layer is simply absent: accepted.
        make_udp(*p, src, dst, text_payload(10));
        CHECK(rig.send(true, *p).ok);
    }
}

TEST_CASE("AH in a group: replays, tampering and routers' changes", "[groups][ah]") {
    GroupSpec spec = shape(true, false, "aes128gcm16", "hmac-sha2_256-128");
    spec.ipv6 = GENERATE(false, true);
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    const auto [src, dst] = rig.hosts(true);
    auto ls = rig.left.gw.sadb->snapshot();
    auto rs = rig.right.gw.sadb->snapshot();
    make_udp(*p, src, dst, text_payload(300));
    REQUIRE(rig.left.proc.outbound(*ls, *p, 1).ok);
    const Bytes wire = bytes_of(*p);
    const Sa& ah_in = rig.sa(false, Kind::ah, true);

    SECTION("what routers may change does not matter") {
        Bytes moved = wire;
        if (spec.ipv6) {
            moved[7] -= 5;     // hop limit
            moved[1] ^= 0x0f;  // flow label
        } else {
            moved[8] -= 5;     // TTL
            moved[1] ^= 0x04;  // ECN
            moved[6] |= 0x40;  // DF
            moved[10] = moved[11] = 0;
            const uint16_t c = ipv4_checksum({moved.data(), 20});
            moved[10] = static_cast<uint8_t>(c >> 8), moved[11] = static_cast<uint8_t>(c);
        }
        auto m = packet_of(moved);
        CHECK(rig.right.proc.inbound(*rs, *m, 2).ok);
    }
    SECTION("a replay is dropped and counted on the AH SA") {
        auto first = packet_of(wire);
        REQUIRE(rig.right.proc.inbound(*rs, *first, 2).ok);
        auto again = packet_of(wire);
        const Outcome r = rig.right.proc.inbound(*rs, *again, 3);
        CHECK(r.reason == DropReason::replay);
        CHECK(ah_in.counters().ooo_errs.get() == 1);
    }
    SECTION("a changed byte anywhere after the header fails AH first") {
        for (std::size_t i :
             {wire.size() - 1, wire.size() / 2, std::size_t{spec.ipv6 ? 41u : 21u}}) {
            Bytes bad = wire;
            bad[i] ^= 0x20;
            auto b = packet_of(bad);
            const Outcome r = rig.right.proc.inbound(*rs, *b, 2);
            CHECK_FALSE(r.ok);
            CHECK((r.reason == DropReason::auth_failed || r.reason == DropReason::malformed));
        }
        CHECK(ah_in.counters().auth_errs.get() >= 2);
        CHECK(rig.sa(false, Kind::esp, true).counters().auth_errs.get() == 0);
    }
}

TEST_CASE("AH with ESN carries past 2^32", "[groups][ah]") {
    GroupSpec spec = shape(true, false, "", "hmac-sha1-96");
    spec.esn = true;
    Rig rig(spec);
    auto out = sa_args(spec, Kind::ah, 0x1000, "192.0.2.1", "192.0.2.2");
    auto in = out;
    out.insert(out.end(), {"--replace", "--seq", "4294967290"});
    in.insert(in.end(), {"--replace", "--seq", "4294967280"});
    apply_or_throw(*rig.left.gw.sadb, out);
    apply_or_throw(*rig.right.gw.sadb, in);
    auto p = std::make_unique<Packet>();
    const auto [src, dst] = rig.hosts(true);
    for (int i = 0; i < 12; ++i) {
        make_udp(*p, src, dst, text_payload(40));
        REQUIRE(rig.send(true, *p).ok);
    }
    CHECK(rig.sa(false, Kind::ah, true).counters().seq.get() == 4294967290ull + 12);
    CHECK(rig.sa(true, Kind::ah, true).counters().seq.get() == 4294967290ull + 12);
}

TEST_CASE("corrupt and bomb IPCOMP payloads from the network are dropped and counted",
          "[groups][ipcomp]") {
    GroupSpec spec = shape(false, true, "", "");  // a lone transport IPCOMP SA each way
    Rig rig(spec);
    auto rs = rig.right.gw.sadb->snapshot();
    const Sa& comp_in = rig.sa(false, Kind::comp, true);
    const auto header = [&](std::size_t data_len) {
        Bytes b(20);
        write_ip_header(b.data(), *IpAddress::parse("192.0.2.1"), *IpAddress::parse("192.0.2.2"),
                        kProtoIpcomp, 4 + data_len, 0);
        b.insert(b.end(), {kProtoUdp, 0, 0x10, 0x02});
        return b;
    };
    // 1 MiB of zeros in about a kilobyte: inflates past any IP packet.
    const Bytes big(1 << 20, 0);
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -11, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes bomb(deflateBound(&z, static_cast<uLong>(big.size())));
    z.next_in = const_cast<Bytef*>(big.data());
    z.avail_in = static_cast<uInt>(big.size());
    z.next_out = bomb.data();
    z.avail_out = static_cast<uInt>(bomb.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    bomb.resize(z.total_out);
    deflateEnd(&z);
    REQUIRE(bomb.size() < 2000);
    Bytes pkt = header(bomb.size());
    pkt.insert(pkt.end(), bomb.begin(), bomb.end());
    auto b = packet_of(pkt);
    CHECK(rig.right.proc.inbound(*rs, *b, 1).reason == DropReason::decompress_failed);

    Bytes garbage = header(50);
    const Bytes junk = random_payload(50, 9);
    garbage.insert(garbage.end(), junk.begin(), junk.end());
    auto g = packet_of(garbage);
    CHECK(rig.right.proc.inbound(*rs, *g, 1).reason == DropReason::decompress_failed);
    CHECK(drops(comp_in, DropReason::decompress_failed) == 2);
    CHECK(drops(rig.right.status, DropReason::decompress_failed) == 2);

    // And a good one still goes through.
    auto good = std::make_unique<Packet>();
    make_udp(*good, "192.0.2.1", "192.0.2.2", text_payload(800));
    const Bytes clear = bytes_of(*good);
    Bytes wire;
    REQUIRE(rig.send(true, *good, &wire).ok);
    CHECK(outer_protocol(wire) == kProtoIpcomp);
    CHECK(bytes_of(*good) == clear);
}

TEST_CASE("AH and IPCOMP overheads size the tunnel MTU", "[groups]") {
    GroupSpec spec = shape(true, true, "", "hmac-sha2_256-128");
    spec.ipv6 = GENERATE(false, true);
    Rig rig(spec);
    const Family f = spec.ipv6 ? Family::v6 : Family::v4;
    CHECK(state_of(rig.sa(true, Kind::ah, true))->overhead(f) == (spec.ipv6 ? 32u : 28u));
    CHECK(state_of(rig.sa(true, Kind::comp, true))->overhead(f) == kIpcompHeaderBytes);
    GroupSpec sha1 = shape(false, false, "", "hmac-sha1-96");
    sha1.ipv6 = spec.ipv6;
    Rig r2(sha1);
    CHECK(state_of(r2.sa(true, Kind::ah, true))->overhead(f) == 24u);
}

TEST_CASE("tun+comp alone: what does not compress leaves as plain IPIP", "[groups][ipcomp]") {
    // With IPCOMP outermost, a datagram sent uncompressed (RFC 3173 §2.2) carries no IPsec
    // header at all: the peer's kernel sees bare IPIP, which no SA names. Groups that need
    // every packet to reach the peer's engine put ESP or AH around IPCOMP.
    GroupSpec spec = shape(true, true, "", "");
    Rig rig(spec);
    auto p = std::make_unique<Packet>();
    const auto [src, dst] = rig.hosts(true);
    make_udp(*p, src, dst, text_payload(1000));
    const Bytes clear = bytes_of(*p);
    Bytes wire;
    REQUIRE(rig.send(true, *p, &wire).ok);
    CHECK(outer_protocol(wire) == kProtoIpcomp);
    CHECK(bytes_of(*p) == clear);

    make_udp(*p, src, dst, text_payload(10));
    auto ls = rig.left.gw.sadb->snapshot();
    REQUIRE(rig.left.proc.outbound(*ls, *p, 1).ok);
    CHECK(outer_protocol(bytes_of(*p)) == kProtoIpip);
}

TEST_CASE("esp+ah and tun+esp+ah groups speak scapy's wire format both ways", "[groups][ah]") {
    const auto vectors = load_group_vectors();
    REQUIRE(vectors.size() == 2);
    for (const auto& v : vectors) {
        INFO(v.at("name"));
        const bool tunnel = v.at("tunnel") == "1";
        const std::string tun = "tun.1001@192.0.2.2";
        const std::string esp = "esp.1003@192.0.2.2";
        const std::string ah = "ah.1004@192.0.2.2";
        // The same SAs outbound at left and inbound at right.
        const auto setup = [&](Side& side) {
            Sadb& db = *side.gw.sadb;
            apply_or_throw(db, {"spi", "--said", esp, "--src", "192.0.2.1", "--esp", v.at("esp"),
                                "--enckey", "0x" + v.at("enc_key")});
            apply_or_throw(db, {"spi", "--said", ah, "--src", "192.0.2.1", "--ah", v.at("ah"),
                                "--authkey", "0x" + v.at("auth_key")});
            if (tunnel) {
                apply_or_throw(db, {"spi", "--said", tun, "--ip4", "--src", "192.0.2.1", "--dst",
                                    "192.0.2.2"});
                apply_or_throw(db, {"spigrp", "--said", tun, esp, ah});
                apply_or_throw(db, {"eroute", "--add", "--src", "198.51.100.0/24", "--dst",
                                    "203.0.113.0/24", "--said", tun});
            } else {
                apply_or_throw(db, {"spigrp", "--said", esp, ah});
                apply_or_throw(db, {"eroute", "--add", "--src", "192.0.2.1/32", "--dst",
                                    "192.0.2.2/32", "--said", esp});
            }
        };
        Side left("192.0.2.1"), right("192.0.2.2");
        setup(left);
        setup(right);

        // What scapy sent, right opens.
        auto in = packet_of(hex(v.at("packet")));
        auto rs = right.gw.sadb->snapshot();
        const Outcome r = right.proc.inbound(*rs, *in, 1);
        INFO(drop_reason_name(r.reason));
        REQUIRE(r.ok);
        CHECK(bytes_of(*in) == hex(v.at("clear")));

        // What left sends is what scapy sent (AES-GCM's IV is the sequence number).
        auto out = packet_of(hex(v.at("clear")));
        auto ls = left.gw.sadb->snapshot();
        set_next_ipv4_id_for_test(0x1234);  // the tunnel header's ID in the vector
        REQUIRE(left.proc.outbound(*ls, *out, 1).ok);
        CHECK(bytes_of(*out) == hex(v.at("packet")));
    }
}
