#pragma once
// The two gateways the packet fuzzers and the seed maker share: a sender (192.0.2.1, 192.0.2.3,
// 2001:db8::1, 2001:db8::3) and a receiver (192.0.2.2, 192.0.2.4, 2001:db8::2, 2001:db8::4) with
// one flow per transform combination: tunnel groups with ESP of every suite, with AH of every
// algorithm, IPCOMP, NAT-T and ESN, transport SAs alone and grouped, IPv4 and IPv6 outer. Keys
// are fixed, so seeds made once stay valid. Each flow has its own clear addresses; its eroute
// sends them through its group, and its inbound SAs are the receiver's.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/algorithm.hpp"
#include "core/command.hpp"
#include "core/sadb.hpp"
#include "netpath/engine.hpp"

namespace ipsecfs::fuzz {

struct Flow {
    bool tunnel = true;
    bool ipv6 = false;  // outer family (tunnels carry the same family inside)
    bool comp = false;
    std::string esp;  // --esp name, empty: none
    std::string ah;   // --ah name, empty: none
    bool natt = false;
    bool esn = false;
    int pair = 0;  // transport flows: which gateway address pair (0: .1/.2, 1: .3/.4)
};

// Designated initializers leave the other members at their defaults on purpose; GCC warns about
// each omitted one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
inline std::vector<Flow> flows() {
    std::vector<Flow> f;
    for (const char* suite :
         {"aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes128-sha1-96", "aes192-sha1-96",
          "aes256-sha1-96", "aes128-sha2_256-128", "aes256-sha2_256-128", "3des-md5-96",
          "3des-sha1-96", "null-sha1-96", "3des"}) {
        f.push_back({.esp = suite});
    }
    f.push_back({.esp = "aes128gcm16", .natt = true});
    f.push_back({.esp = "aes256-sha1-96", .esn = true});
    for (const char* auth : {"hmac-md5-96", "hmac-sha1-96", "hmac-sha2_256-128"})
        f.push_back({.ah = auth});
    f.push_back({.comp = true, .esp = "3des"});
    f.push_back({.comp = true, .esp = "aes128gcm16", .ah = "hmac-sha1-96", .esn = true});
    f.push_back({});  // IPIP alone
    f.push_back({.comp = true});
    f.push_back({.ipv6 = true, .esp = "chacha20poly1305"});
    f.push_back({.ipv6 = true, .comp = true, .ah = "hmac-sha2_256-128"});
    f.push_back({.ipv6 = true, .esp = "3des", .natt = true});
    f.push_back({.tunnel = false, .esp = "aes128-sha1-96", .pair = 0});
    f.push_back({.tunnel = false, .ah = "hmac-sha2_256-128", .pair = 1});
    f.push_back({.tunnel = false, .ipv6 = true, .esp = "aes128gcm16", .ah = "hmac-md5-96"});
    f.push_back({.tunnel = false, .ipv6 = true, .comp = true, .esp = "3des", .pair = 1});
    return f;
}
#pragma GCC diagnostic pop

inline std::string gateway(const Flow& f, bool sender) {
    const int n = (f.tunnel ? 0 : f.pair * 2) + (sender ? 1 : 2);
    return (f.ipv6 ? "2001:db8::" : "192.0.2.") + std::to_string(n);
}

// The clear addresses of flow i: tunnels 198.51.100.i → 203.0.113.i (IPv6: 2001:db8:1::i →
// 2001:db8:2::i); transport flows the gateways themselves.
inline std::string clear_src(const Flow& f, std::size_t i) {
    if (!f.tunnel) return gateway(f, true);
    return f.ipv6 ? "2001:db8:1::" + std::to_string(i) : "198.51.100." + std::to_string(i);
}
inline std::string clear_dst(const Flow& f, std::size_t i) {
    if (!f.tunnel) return gateway(f, false);
    return f.ipv6 ? "2001:db8:2::" + std::to_string(i) : "203.0.113." + std::to_string(i);
}

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

// A flow's SAs, inner to outer: tun, comp, esp, ah.
inline std::vector<std::vector<std::string>> sa_commands(const Flow& f, std::size_t i) {
    const std::string dst = gateway(f, false), src = gateway(f, true);
    const std::string sep = f.ipv6 ? ":" : ".";
    char spi_text[16];
    std::vector<std::vector<std::string>> out;
    const auto said = [&](const char* proto, unsigned kind) {
        std::snprintf(spi_text, sizeof spi_text, "%x",
                      0x1000u + static_cast<unsigned>(i) * 16u + kind);
        return proto + sep + spi_text + "@" + dst;
    };
    const unsigned seed = static_cast<unsigned>(i) * 4;
    if (f.tunnel) {
        out.push_back({"spi", "--said", said("tun", 1), f.ipv6 ? "--ip6" : "--ip4", "--src", src,
                       "--dst", dst});
    }
    if (f.comp)
        out.push_back({"spi", "--said", said("comp", 2), "--src", src, "--comp", "deflate"});
    if (!f.esp.empty()) {
        const auto t = parse_esp_name(f.esp);
        std::vector<std::string> c = {"spi", "--said", said("esp", 3), "--src",
                                      src,   "--esp",  f.esp};
        if (enc_key_bytes(*t)) c.insert(c.end(), {"--enckey", hex_key(enc_key_bytes(*t), seed)});
        if (auth_key_bytes(*t)) {
            c.insert(c.end(), {"--authkey", hex_key(auth_key_bytes(*t), seed + 1)});
        }
        if (f.natt) c.insert(c.end(), {"--natt", "nonesp", "--sport", "4500", "--dport", "4500"});
        if (f.esn) c.push_back("--esn");
        out.push_back(c);
    }
    if (!f.ah.empty()) {
        const auto t = parse_ah_name(f.ah);
        std::vector<std::string> c = {"spi",   "--said",    said("ah", 4),
                                      "--src", src,         "--ah",
                                      f.ah,    "--authkey", hex_key(auth_key_bytes(*t), seed + 2)};
        if (f.esn) c.push_back("--esn");
        out.push_back(c);
    }
    return out;
}

inline void apply_or_die(Sadb& db, const std::vector<std::string>& args) {
    auto cmd = parse_command(args);
    auto r = cmd ? db.apply(*cmd) : Result<void>(fail(cmd.error()));
    if (!r) {
        std::string line;
        for (const auto& a : args)
            line += a + " ";
        std::fprintf(stderr, "fuzz rig: %s: %s\n", line.c_str(), r.error().c_str());
        std::abort();
    }
}

// The sender's (outbound SAs, eroutes) or the receiver's (inbound SAs, inbound policies) SADB.
inline std::unique_ptr<Sadb> make_gateway(bool sender) {
    Sadb::Environment env;
    env.is_local = [sender](const IpAddress& a) {
        const std::string s = a.str();
        const char last = s.back();
        const bool odd = last == '1' || last == '3';
        return (s.starts_with("192.0.2.") || s.starts_with("2001:db8::")) && odd == sender;
    };
    env.make_runtime = netpath::Engine::make_runtime;
    auto db = std::make_unique<Sadb>(std::move(env));
    const auto all = flows();
    for (std::size_t i = 0; i < all.size(); ++i) {
        const Flow& f = all[i];
        std::vector<std::string> saids;
        for (const auto& c : sa_commands(f, i)) {
            apply_or_die(*db, c);
            saids.push_back(c[2]);
        }
        if (saids.size() > 1) {
            std::vector<std::string> g = {"spigrp", "--said"};
            g.insert(g.end(), saids.begin(), saids.end());
            apply_or_die(*db, g);
        }
        const std::string bits = f.ipv6 ? "/128" : "/32";
        const std::string src = clear_src(f, i) + bits, dst = clear_dst(f, i) + bits;
        if (sender) {
            apply_or_die(*db, {"eroute", "--add", "--src", src, "--dst", dst, "--said", saids[0]});
        } else if (f.tunnel) {
            apply_or_die(*db,
                         {"eroute", "--addin", "--src", src, "--dst", dst, "--said", saids[0]});
        }
    }
    return db;
}

}  // namespace ipsecfs::fuzz
