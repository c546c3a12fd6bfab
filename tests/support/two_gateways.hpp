#pragma once
// Two SADBs set up like two gateways joined by a tunnel, for in-process tests:
// left 192.0.2.1 guards 198.51.100.0/24, right 192.0.2.2 guards 203.0.113.0/24 (or the IPv6
// equivalents), each with an outbound tun+esp group, an inbound one and eroutes.

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/sadb.hpp"
#include "netpath/engine.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::testing {

struct TunnelSpec {
    std::string esp = "aes128gcm16";
    bool ipv6_outer = false;
    bool natt = false;
    bool esn = false;
    bool tunnel = true;  // false: transport mode between the gateways themselves
    std::vector<std::string> extra_left_in;  // extra options on left's inbound esp SA
};

struct Gateway {
    std::string addr;
    std::unique_ptr<Sadb> sadb;
    int64_t now = 1'000'000'000'000;
};

inline std::string hex_key(std::size_t bytes, unsigned seed) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s = "0x";
    for (std::size_t i = 0; i < bytes; ++i) {
        const unsigned b = (static_cast<unsigned>(i) * 37u + seed * 101u + 7u) & 0xffu;
        s += kDigits[b >> 4];
        s += kDigits[b & 15];
    }
    return s;
}

inline void apply_or_throw(Sadb& db, std::vector<std::string> args) {
    auto cmd = parse_command(args);
    if (!cmd) throw std::runtime_error("parse: " + cmd.error());
    auto r = db.apply(*cmd);
    if (!r) throw std::runtime_error("apply: " + r.error());
}

// The options that make an ESP SA with spec's suite and keys derived from seed.
inline std::vector<std::string> esp_options(const TunnelSpec& spec, unsigned seed) {
    auto t = parse_esp_name(spec.esp);
    std::vector<std::string> o = {"--esp", spec.esp};
    if (enc_key_bytes(*t)) o.insert(o.end(), {"--enckey", hex_key(enc_key_bytes(*t), seed)});
    if (auth_key_bytes(*t)) o.insert(o.end(), {"--authkey", hex_key(auth_key_bytes(*t), seed + 1)});
    if (spec.natt) o.insert(o.end(), {"--natt", "nonesp", "--sport", "4500", "--dport", "4500"});
    if (spec.esn) o.push_back("--esn");
    return o;
}

// Adds to `self` the SAs for traffic self→peer (outbound) and peer→self (inbound).
inline void configure(Gateway& self, const Gateway& peer, const TunnelSpec& spec, bool left) {
    const std::string out_spi = left ? "1000" : "2000";
    const std::string in_spi = left ? "2000" : "1000";
    const std::string sep = spec.ipv6_outer ? ":" : ".";
    const std::string my_net = spec.ipv6_outer ? (left ? "2001:db8:1::/48" : "2001:db8:2::/48")
                                               : (left ? "198.51.100.0/24" : "203.0.113.0/24");
    const std::string peer_net = spec.ipv6_outer ? (left ? "2001:db8:2::/48" : "2001:db8:1::/48")
                                                 : (left ? "203.0.113.0/24" : "198.51.100.0/24");
    const unsigned out_seed = left ? 1 : 2, in_seed = left ? 2 : 1;
    Sadb& db = *self.sadb;
    const std::string out_esp = "esp" + sep + out_spi + "@" + peer.addr;
    const std::string in_esp = "esp" + sep + in_spi + "@" + self.addr;
    auto out = std::vector<std::string>{"spi", "--said", out_esp, "--src", self.addr};
    auto o = esp_options(spec, out_seed);
    out.insert(out.end(), o.begin(), o.end());
    apply_or_throw(db, out);
    auto in = std::vector<std::string>{"spi", "--said", in_esp, "--src", peer.addr};
    auto i = esp_options(spec, in_seed);
    in.insert(in.end(), i.begin(), i.end());
    if (left) in.insert(in.end(), spec.extra_left_in.begin(), spec.extra_left_in.end());
    apply_or_throw(db, in);
    const std::string ipn = spec.ipv6_outer ? "--ip6" : "--ip4";
    if (spec.tunnel) {
        const std::string out_tun = "tun" + sep + out_spi + "1@" + peer.addr;
        const std::string in_tun = "tun" + sep + in_spi + "1@" + self.addr;
        apply_or_throw(db, {"spi", "--said", out_tun, ipn, "--src", self.addr, "--dst", peer.addr});
        apply_or_throw(db, {"spi", "--said", in_tun, ipn, "--src", peer.addr, "--dst", self.addr});
        apply_or_throw(db, {"spigrp", "--said", out_tun, out_esp});
        apply_or_throw(db, {"spigrp", "--said", in_tun, in_esp});
        apply_or_throw(db,
                       {"eroute", "--add", "--src", my_net, "--dst", peer_net, "--said", out_tun});
        apply_or_throw(db,
                       {"eroute", "--addin", "--src", peer_net, "--dst", my_net, "--said", in_tun});
    } else {
        const std::string bits = spec.ipv6_outer ? "/128" : "/32";
        apply_or_throw(db, {"eroute", "--add", "--src", self.addr + bits, "--dst", peer.addr + bits,
                            "--said", out_esp});
    }
}

inline Gateway make_gateway(const std::string& addr) {
    Gateway g;
    g.addr = addr;
    Sadb::Environment env;
    env.is_local = [addr](const IpAddress& a) { return a.str() == addr; };
    env.make_runtime = netpath::Engine::make_runtime;
    g.sadb = std::make_unique<Sadb>(std::move(env));
    return g;
}

struct GatewayPair {
    Gateway left;
    Gateway right;
};

// A clear IPv4 UDP packet with len payload bytes of fill, as the kernel routes it into a TUN.
inline std::vector<uint8_t> udp_packet(const std::string& src, const std::string& dst,
                                       std::size_t len, uint8_t fill) {
    std::vector<uint8_t> b(28 + len + 20, 0);
    const std::size_t hlen = netpath::write_ip_header(
        b.data(), *IpAddress::parse(src), *IpAddress::parse(dst), netpath::kProtoUdp, 8 + len, 0);
    b.resize(hlen + 8 + len);
    b[hlen + 4] = static_cast<uint8_t>((8 + len) >> 8);
    b[hlen + 5] = static_cast<uint8_t>(8 + len);
    std::memset(b.data() + hlen + 8, fill, len);
    return b;
}

inline GatewayPair make_pair(const TunnelSpec& spec) {
    GatewayPair p{make_gateway(spec.ipv6_outer ? "2001:db8::1" : "192.0.2.1"),
                  make_gateway(spec.ipv6_outer ? "2001:db8::2" : "192.0.2.2")};
    configure(p.left, p.right, spec, true);
    configure(p.right, p.left, spec, false);
    return p;
}

}  // namespace ipsecfs::testing
