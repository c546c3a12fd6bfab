#include "netpath/ipcomp.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "netpath/ah_packet.hpp"
#include "netpath/ip_header.hpp"

namespace ipsecfs::netpath {

struct IpcompCodec::Streams {
    z_stream def{};
    z_stream inf{};
    bool def_ok = false;
    bool inf_ok = false;
    std::unique_ptr<uint8_t[]> scratch;

    ~Streams() {
        if (def_ok) deflateEnd(&def);
        if (inf_ok) inflateEnd(&inf);
    }
};

std::optional<IpcompHeader> parse_ipcomp_header(std::span<const uint8_t> ipcomp) {
    if (ipcomp.size() < kIpcompHeaderBytes) return std::nullopt;
    return IpcompHeader{ipcomp[0], ipcomp[1], static_cast<uint16_t>(ipcomp[2] << 8 | ipcomp[3])};
}

IpcompCodec::IpcompCodec() = default;
IpcompCodec::~IpcompCodec() = default;
IpcompCodec::IpcompCodec(IpcompCodec&&) noexcept = default;
IpcompCodec& IpcompCodec::operator=(IpcompCodec&&) noexcept = default;

bool IpcompCodec::ready() {
    if (s_) return true;
    std::unique_ptr<Streams> s(new (std::nothrow) Streams());
    if (!s) return false;
    s->scratch.reset(new (std::nothrow) uint8_t[Packet::kMaxData]);
    if (!s->scratch) return false;
    s->def_ok = deflateInit2(&s->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -kDeflateWindowBits, 8,
                             Z_DEFAULT_STRATEGY) == Z_OK;
    if (!s->def_ok) return false;
    s->inf_ok = inflateInit2(&s->inf, -kInflateWindowBits) == Z_OK;
    if (!s->inf_ok) return false;
    s_ = std::move(s);
    return true;
}

std::span<uint8_t> IpcompCodec::scratch() {
    if (!s_) return {};
    return {s_->scratch.get(), Packet::kMaxData};
}

std::size_t IpcompCodec::compress(std::span<const uint8_t> in, std::span<uint8_t> out) {
    if (!ready() || in.size() > Packet::kMaxData || out.empty()) return 0;
    z_stream& z = s_->def;
    if (deflateReset(&z) != Z_OK) return 0;
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size(), Packet::kMaxData));
    const std::size_t room = z.avail_out;
    // Z_FINISH: the whole datagram is one stream ending in a final block (RFC 2394 §2.1).
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) return 0;
    return room - z.avail_out;
}

std::optional<std::size_t> IpcompCodec::decompress(std::span<const uint8_t> in,
                                                   std::span<uint8_t> out) {
    if (!ready() || in.size() > Packet::kMaxData) return std::nullopt;
    z_stream& z = s_->inf;
    if (inflateReset(&z) != Z_OK) return std::nullopt;
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size(), Packet::kMaxData));
    const std::size_t room = z.avail_out;
    // Anything but a complete stream that fits is refused: Z_BUF_ERROR means the output is full
    // (a bomb) or the input ended early, Z_DATA_ERROR a corrupt stream.
    if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.avail_in != 0) return std::nullopt;
    return room - z.avail_out;
}

IpcompResult ipcomp_compress(IpcompCodec& z, Packet& pkt, uint16_t cpi) {
    const SlotFound found = find_ipsec_slot(pkt.bytes(), true);
    if (found.status == SlotStatus::malformed) return {IpcompStatus::malformed};
    if (found.status != SlotStatus::ok) return {IpcompStatus::uncompressed};
    const IpSlot& s = found.slot;
    const std::size_t payload = pkt.size() - s.offset;
    if (payload < kIpcompMinPayload || !z.ready()) return {IpcompStatus::uncompressed};
    // §2.2: header plus compressed data must come out smaller than the payload, or the
    // datagram goes uncompressed. Capping the output makes zlib stop as soon as it cannot.
    const std::size_t cap = payload - kIpcompHeaderBytes - 1;
    const std::size_t n = z.compress(pkt.bytes().subspan(s.offset), z.scratch().first(cap));
    if (n == 0) return {IpcompStatus::uncompressed};

    uint8_t* h = pkt.data() + s.offset;
    h[0] = s.next_header;
    h[1] = 0;
    h[2] = static_cast<uint8_t>(cpi >> 8);
    h[3] = static_cast<uint8_t>(cpi);
    std::memcpy(h + kIpcompHeaderBytes, z.scratch().data(), n);
    pkt.set_size(s.offset + kIpcompHeaderBytes + n);
    set_slot_next_header(pkt.bytes(), s, kProtoIpcomp, pkt.size());
    return {IpcompStatus::compressed, payload, n};
}

IpcompResult ipcomp_decompress(IpcompCodec& z, Packet& pkt) {
    const SlotFound found = find_ipsec_slot(pkt.bytes(), false);
    if (found.status != SlotStatus::ok) return {IpcompStatus::malformed};
    const IpSlot& s = found.slot;
    if (s.next_header != kProtoIpcomp) return {IpcompStatus::malformed};
    const auto header = parse_ipcomp_header(pkt.bytes().subspan(s.offset));
    if (!header) return {IpcompStatus::malformed};
    if (!z.ready()) return {IpcompStatus::failed};
    const auto data = pkt.bytes().subspan(s.offset + kIpcompHeaderBytes);
    // The limit is the largest IP packet: the headers before the payload take their share.
    const auto n = z.decompress(data, z.scratch().first(Packet::kMaxData - s.offset));
    if (!n) return {IpcompStatus::failed};

    const std::size_t compressed = data.size();
    uint8_t* start = pkt.base() + Packet::kHeadroom;
    std::memmove(start, pkt.data(), s.offset);
    std::memcpy(start + s.offset, z.scratch().data(), *n);
    pkt.set_view(Packet::kHeadroom, s.offset + *n);
    set_slot_next_header(pkt.bytes(), s, header->next_header, pkt.size());
    return {IpcompStatus::compressed, *n, compressed};
}

}  // namespace ipsecfs::netpath
