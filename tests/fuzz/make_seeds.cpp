// Writes the seed corpora of the binary fuzzers into DIR/<target>/ (tests/fuzz/run uses
// tests/fuzz/corpus): for every flow of fuzz_rig.hpp a clear packet (fuzz_outbound) and what
// the sender makes of it on the wire (fuzz_inbound), large enough for IPCOMP to compress and
// small enough for it not to; for fuzz_ipcomp the packets and raw DEFLATE payloads of
// tests/data/ah/ipcomp_vectors.txt; for fuzz_state_codec both gateways' SADBs as state files.
// Keys are fixed, so the seeds stay valid until fuzz_rig.hpp changes; run it again then.
//
//   make_seeds DIR

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/saved_sadb.hpp"
#include "core/state_codec.hpp"
#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"
#include "netpath/processor.hpp"
#include "tests/fuzz/fuzz_rig.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

using Bytes = std::vector<uint8_t>;

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

// A UDP datagram of `len` bytes of text (which compresses) from src to dst.
Bytes udp_packet(const std::string& src, const std::string& dst, std::size_t len) {
    static constexpr char kText[] = "ipsec_spi: esp.1000@192.0.2.2 ESP_AES_HMAC_SHA1: dir=out ";
    Bytes b(kIpv6HeaderBytes + 8 + len);
    const std::size_t hlen = write_ip_header(b.data(), *IpAddress::parse(src),
                                             *IpAddress::parse(dst), kProtoUdp, 8 + len, 0);
    uint8_t* udp = b.data() + hlen;
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x30, udp[3] = 0x3a;
    udp[4] = static_cast<uint8_t>((8 + len) >> 8), udp[5] = static_cast<uint8_t>(8 + len);
    for (std::size_t i = 0; i < len; ++i)
        udp[8 + i] = static_cast<uint8_t>(kText[i % (sizeof(kText) - 1)]);
    b.resize(hlen + 8 + len);
    return b;
}

Bytes hex(const std::string& text) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return out;
}

void packet_seeds(const std::string& dir) {
    auto sender = fuzz::make_gateway(true);
    DataplaneStatus status;
    Processor processor(status);
    auto p = std::make_unique<Packet>();
    const auto all = fuzz::flows();
    for (std::size_t i = 0; i < all.size(); ++i) {
        for (const std::size_t len : {std::size_t{40}, std::size_t{600}}) {
            const Bytes clear =
                udp_packet(fuzz::clear_src(all[i], i), fuzz::clear_dst(all[i], i), len);
            char name[32];
            std::snprintf(name, sizeof name, "flow%02zu-%zu", i, len);
            write_file(dir + "/fuzz_outbound/" + name, clear);

            auto area = p->reset();
            std::copy(clear.begin(), clear.end(), area.begin());
            p->set_size(clear.size());
            const auto snap = sender->snapshot();
            if (!processor.outbound(*snap, *p, 5'000'000'000).ok) {
                std::fprintf(stderr, "make_seeds: flow %zu does not send\n", i);
                std::exit(1);
            }
            Bytes wire = {static_cast<uint8_t>(p->outer.kind == OuterKind::udp)};
            if (p->outer.kind == OuterKind::udp) {
                Bytes header(kIpv6HeaderBytes);
                header.resize(write_ip_header(header.data(), p->outer.src, p->outer.dst, kProtoEsp,
                                              p->size(), 0));
                wire.insert(wire.end(), header.begin(), header.end());
            }
            wire.insert(wire.end(), p->data(), p->data() + p->size());
            write_file(dir + "/fuzz_inbound/" + name, wire);
        }
    }
}

void ipcomp_seeds(const std::string& dir) {
    std::ifstream in(std::string(IPSECFS_TEST_DATA) + "/ah/ipcomp_vectors.txt");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        if (!line.starts_with("packet = ")) continue;
        const Bytes packet = hex(line.substr(9));
        const std::size_t hlen = (packet[0] >> 4) == 4 ? (packet[0] & 15u) * 4 : kIpv6HeaderBytes;
        Bytes seed = {0xff, 0xff};
        seed.insert(seed.end(), packet.begin(), packet.end());
        write_file(dir + "/fuzz_ipcomp/vector" + std::to_string(n) + "-packet", seed);
        seed.resize(2);
        seed.insert(seed.end(), packet.begin() + static_cast<std::ptrdiff_t>(hlen + 4),
                    packet.end());
        write_file(dir + "/fuzz_ipcomp/vector" + std::to_string(n) + "-deflate", seed);
        ++n;
    }
    if (n == 0) {
        std::fprintf(stderr, "make_seeds: no IPCOMP vectors found\n");
        std::exit(1);
    }
}

// Each gateway's SADB as a state file, whole (fuzz_state_codec decodes it as it is) and as the
// payload alone (which it wraps in a header and checksum of its own).
void state_seeds(const std::string& dir) {
    constexpr std::size_t kHeader = 8 + 4 + 8, kTrailer = 4;
    for (const bool sender : {true, false}) {
        const auto db = fuzz::make_gateway(sender);
        const StateBytes file = encode_state(save_sadb(*db->snapshot(), 7'000'000'000));
        const std::string name = dir + "/fuzz_state_codec/" + (sender ? "sender" : "receiver");
        write_file(name, Bytes(file.begin(), file.end()));
        write_file(name + "-payload", Bytes(file.begin() + kHeader, file.end() - kTrailer));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    packet_seeds(argv[1]);
    ipcomp_seeds(argv[1]);
    state_seeds(argv[1]);
    return 0;
}
