#pragma once
// The ESP wire format (RFC 4303 §2), independent of sockets:
//
//   SPI (4) | Sequence Number (4) | IV | Payload | Padding (0-255) | Pad Length | Next Header | ICV
//                                      |<---------------- ciphertext ----------------------->|
//
// The engine calls parse_esp_header → SA lookup → replay pre-check → esp_open → replay commit.
// Nothing here allocates.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/drop_reason.hpp"
#include "netpath/crypto/esp_cipher.hpp"

namespace ipsecfs {

struct EspHeader {
    uint32_t spi;
    uint32_t seq_lo;
};

inline constexpr std::size_t kEspHeaderBytes = 8;

// nullopt if esp is shorter than the 8-byte header.
std::optional<EspHeader> parse_esp_header(std::span<const uint8_t> esp);

// Header + IV + the most padding + pad length + next header + ICV.
std::size_t esp_max_overhead(const crypto::EspCipher& c);

// Writes SPI|seq|IV|ciphertext(payload|padding 1,2,3..|pad len|next header)|ICV into out, with the
// least padding that aligns to c.block_bytes() (RFC 4303 §2.4). payload may already sit at
// out[8 + iv_bytes] (then it is not copied) or anywhere else. Returns the bytes written, or 0 if
// out is too small or the cipher failed.
std::size_t esp_seal(crypto::EspCipher& c, uint32_t spi, uint64_t seq, bool esn,
                     uint8_t next_header, std::span<const uint8_t> payload, std::span<uint8_t> out);

enum class EspOpenStatus : uint8_t { ok, malformed, bad_size, auth_failed, bad_padding };

struct EspOpened {
    EspOpenStatus status;
    std::span<uint8_t> payload;  // inside esp; empty unless ok
    uint8_t next_header;
};

// Verifies and decrypts esp (header through ICV) in place. seq is the full sequence number the
// replay check inferred (with ESN, its high half enters the ICV). malformed: shorter than the
// header; bad_size: ciphertext shorter than 2 bytes or not a multiple of block_bytes
// (encr_size_errs); auth_failed: ICV mismatch (auth_errs); bad_padding: pad length beyond the
// ciphertext or padding bytes not 1, 2, 3, ... (encr_pad_errs). Never reads or writes outside
// esp, for any input.
EspOpened esp_open(crypto::EspCipher& c, std::span<uint8_t> esp, uint64_t seq, bool esn);

// The counter an esp_open failure goes to; never call it with ok.
DropReason drop_reason_of(EspOpenStatus s);

}  // namespace ipsecfs
