#pragma once
// IPCOMP (RFC 3173) with DEFLATE (RFC 2394, raw RFC 1951 streams, each datagram compressed on
// its own with a fresh history, RFC 3173 §2.1):
//
//   Next Header (1) | Flags (1) | Compression Parameter Index (2) | compressed payload
//
// The CPI is the SAID's SPI (`comp.<cpi>@…`) and must fit 16 bits (RFC 3173 §3.3). IPCOMP goes
// where AH would (find_ipsec_slot): right after the IP header, which in a tun group the tun SA
// made. A packet whose payload is small or would not shrink is sent as it is, with no IPCOMP
// header at all (§2.2): the receiver then simply finds no IPCOMP layer.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "netpath/packet.hpp"

namespace ipsecfs::netpath {

inline constexpr std::size_t kIpcompHeaderBytes = 4;
inline constexpr uint32_t kMaxCpi = 0xffff;
// RFC 2394 §3 (and Linux's deflate threshold): payloads this small rarely shrink; they go as
// they are.
inline constexpr std::size_t kIpcompMinPayload = 90;
// Linux inflates IPCOMP with a 2^11-byte window, so we never compress with a larger one. We
// inflate with the largest (2^15) to accept any peer's streams.
inline constexpr int kDeflateWindowBits = 11;
inline constexpr int kInflateWindowBits = 15;

struct IpcompHeader {
    uint8_t next_header;
    uint8_t flags;  // reserved: sent as zero, ignored on receipt (§3)
    uint16_t cpi;
};

// nullopt if shorter than the 4-byte header.
std::optional<IpcompHeader> parse_ipcomp_header(std::span<const uint8_t> ipcomp);

// One raw-deflate compressor, one decompressor and one 64 KiB scratch buffer, made at the first
// use and reset per packet: zlib state is large (about 150 KiB), so a worker owns one of these
// and no SA does. (inflate adds its 32 KiB window the first time a stream does not finish in one
// call, and keeps it across resets.) Not thread-safe.
class IpcompCodec {
  public:
    IpcompCodec();
    ~IpcompCodec();
    IpcompCodec(IpcompCodec&&) noexcept;
    IpcompCodec& operator=(IpcompCodec&&) noexcept;

    // Makes the zlib streams and the scratch buffer unless they exist; false if out of memory.
    [[nodiscard]] bool ready();

    // in as one complete raw deflate stream (window kDeflateWindowBits) into out. Returns the
    // bytes written; 0 if the stream does not fit in out (so it would not shrink) or zlib failed.
    std::size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out);
    // One complete raw deflate stream into out. nullopt if the stream is corrupt or truncated,
    // has bytes after its end, or inflates to more than out holds: nothing is ever written past
    // out, whatever the input (decompression bombs stop there).
    std::optional<std::size_t> decompress(std::span<const uint8_t> in, std::span<uint8_t> out);

    // Packet::kMaxData bytes (after ready()).
    std::span<uint8_t> scratch();

  private:
    struct Streams;
    std::unique_ptr<Streams> s_;
};

enum class IpcompStatus : uint8_t {
    compressed,    // pkt carries an IPCOMP header and compressed payload
    uncompressed,  // outbound: pkt left as it was (small, would not shrink, or out of memory)
    malformed,     // not an IP packet / no IPCOMP header where parse found one
    failed,        // inbound: corrupt stream or more than fits in an IP packet
};

struct IpcompResult {
    IpcompStatus status;
    // The payload before compression and the compressed data (IPCOMP header not counted): the
    // ratio= numbers. Zero unless compressed.
    std::size_t uncompressed_bytes = 0;
    std::size_t compressed_bytes = 0;
};

// Outbound (RFC 3173 §2.2, §3): replaces the payload after the IP header with IPCOMP header and
// compressed payload, if the payload is at least kIpcompMinPayload bytes and header plus
// compressed data come out smaller than it. Otherwise pkt is unchanged (uncompressed).
IpcompResult ipcomp_compress(IpcompCodec& z, Packet& pkt, uint16_t cpi);

// Inbound: pkt's header after the IP header is IPCOMP; replaces IPCOMP header and compressed
// payload with the decompressed payload. The packet may not exceed Packet::kMaxData bytes.
IpcompResult ipcomp_decompress(IpcompCodec& z, Packet& pkt);

}  // namespace ipsecfs::netpath
