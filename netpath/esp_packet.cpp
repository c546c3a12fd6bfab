#include "netpath/esp_packet.hpp"
#include "netpath/byte_order.hpp"

#include <cstring>

namespace ipsecfs {
namespace {

constexpr std::size_t kTrailerBytes = 2;  // pad length, next header

EspOpened failed(EspOpenStatus s) {
    return {s, {}, 0};
}

}  // namespace

std::optional<EspHeader> parse_esp_header(std::span<const uint8_t> esp) {
    if (esp.size() < kEspHeaderBytes) return std::nullopt;
    return EspHeader{get_be32(esp.data()), get_be32(esp.data() + 4)};
}

std::size_t esp_max_overhead(const crypto::EspCipher& c) {
    return kEspHeaderBytes + c.iv_bytes() + (c.block_bytes() - 1) + kTrailerBytes + c.icv_bytes();
}

std::size_t esp_seal(crypto::EspCipher& c, uint32_t spi, uint64_t seq, bool esn,
                     uint8_t next_header, std::span<const uint8_t> payload,
                     std::span<uint8_t> out) {
    const std::size_t iv_len = c.iv_bytes();
    const std::size_t block = c.block_bytes();
    const std::size_t icv_len = c.icv_bytes();
    const std::size_t pad_len = (block - (payload.size() + kTrailerBytes) % block) % block;
    const std::size_t ct_len = payload.size() + pad_len + kTrailerBytes;
    const std::size_t total = kEspHeaderBytes + iv_len + ct_len + icv_len;
    if (payload.size() > out.size() || out.size() < total) return 0;

    uint8_t* const ct = out.data() + kEspHeaderBytes + iv_len;
    if (!payload.empty() && payload.data() != ct) {
        std::memmove(ct, payload.data(), payload.size());
    }
    put_be32(out.data(), spi);
    put_be32(out.data() + 4, static_cast<uint32_t>(seq));
    // RFC 4303 §2.4: default padding is the byte sequence 1, 2, 3, ...
    uint8_t* pad = ct + payload.size();
    for (std::size_t i = 0; i < pad_len; ++i)
        pad[i] = static_cast<uint8_t>(i + 1);
    pad[pad_len] = static_cast<uint8_t>(pad_len);
    pad[pad_len + 1] = next_header;

    const bool sealed =
        c.seal(out.first<kEspHeaderBytes>(), seq, esn, out.subspan(kEspHeaderBytes, iv_len),
               out.subspan(kEspHeaderBytes + iv_len, ct_len),
               out.subspan(kEspHeaderBytes + iv_len + ct_len, icv_len));
    return sealed ? total : 0;
}

EspOpened esp_open(crypto::EspCipher& c, std::span<uint8_t> esp, uint64_t seq, bool esn) {
    if (esp.size() < kEspHeaderBytes) return failed(EspOpenStatus::malformed);
    const std::size_t iv_len = c.iv_bytes();
    const std::size_t icv_len = c.icv_bytes();
    const std::size_t block = c.block_bytes();
    const std::size_t body = esp.size() - kEspHeaderBytes;
    if (body < iv_len + icv_len + kTrailerBytes) return failed(EspOpenStatus::bad_size);
    const std::size_t ct_len = body - iv_len - icv_len;
    if (ct_len % block != 0) return failed(EspOpenStatus::bad_size);

    const std::span<uint8_t> ct = esp.subspan(kEspHeaderBytes + iv_len, ct_len);
    if (!c.open(esp.first<kEspHeaderBytes>(), seq, esn, esp.subspan(kEspHeaderBytes, iv_len), ct,
                esp.last(icv_len))) {
        return failed(EspOpenStatus::auth_failed);
    }

    const uint8_t pad_len = ct[ct_len - 2];
    const uint8_t next_header = ct[ct_len - 1];
    if (pad_len > ct_len - kTrailerBytes) return failed(EspOpenStatus::bad_padding);
    const std::size_t payload_len = ct_len - kTrailerBytes - pad_len;
    // RFC 4303 §2.4: padding made with the default 1, 2, 3, ... is checked by the receiver.
    for (std::size_t i = 0; i < pad_len; ++i) {
        if (ct[payload_len + i] != static_cast<uint8_t>(i + 1)) {
            return failed(EspOpenStatus::bad_padding);
        }
    }
    return {EspOpenStatus::ok, ct.first(payload_len), next_header};
}

DropReason drop_reason_of(EspOpenStatus s) {
    switch (s) {
        case EspOpenStatus::bad_size:
            return DropReason::bad_size;
        case EspOpenStatus::auth_failed:
            return DropReason::auth_failed;
        case EspOpenStatus::bad_padding:
            return DropReason::bad_padding;
        case EspOpenStatus::ok:
        case EspOpenStatus::malformed:
            break;
    }
    return DropReason::malformed;
}

}  // namespace ipsecfs
