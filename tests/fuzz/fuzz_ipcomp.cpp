// IPCOMP's DEFLATE (RFC 3173, RFC 2394) on anything: decompress never writes past its output
// (an exactly sized heap buffer, so AddressSanitizer sees one byte too many), the packet form
// never leaves an oversized packet, and compress then decompress gives back the input. Input:
// two bytes of output size, then the stream. Seeds: the IPCOMP vectors' packets and payloads.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "netpath/ip_header.hpp"
#include "netpath/ipcomp.hpp"

using namespace ipsecfs::netpath;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static IpcompCodec codec;
    static auto packet = std::make_unique<Packet>();
    if (size < 2 || size - 2 > Packet::kMaxData || !codec.ready()) return 0;
    const std::size_t out_size = std::size_t{data[0]} << 8 | data[1];
    const std::span<const uint8_t> in(data + 2, size - 2);

    std::vector<uint8_t> out(out_size);
    if (const auto n = codec.decompress(in, out); n && *n > out.size()) __builtin_trap();

    std::vector<uint8_t> packed(in.size());
    if (const std::size_t n = codec.compress(in, packed)) {
        std::vector<uint8_t> unpacked(in.size());
        const auto m = codec.decompress({packed.data(), n}, unpacked);
        if (!m || *m != in.size() || std::memcmp(unpacked.data(), in.data(), in.size()) != 0) {
            __builtin_trap();
        }
    }

    // The same bytes as an IP packet whose payload may be an IPCOMP header, checked and cut
    // to its length as the processor does before any transform.
    const auto ip = parse_ip(in);
    if (!ip) return 0;
    Packet& p = *packet;
    auto area = p.reset();
    std::memcpy(area.data(), in.data(), ip->total_len);
    p.set_size(ip->total_len);
    const IpcompResult r = ipcomp_decompress(codec, p);
    if (r.status == IpcompStatus::compressed &&
        (p.size() > Packet::kMaxData || !parse_ip(p.bytes()))) {
        __builtin_trap();
    }
    return 0;
}
