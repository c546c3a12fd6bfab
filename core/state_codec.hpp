#pragma once
// The state file's bytes (ipsec-mountd(8), FILES): a SavedSadb encoded and decoded, no I/O.
//
//   magic "IPSECFS\0" | version u32 | payload length u64 | payload | CRC-32 u32
//
// Integers are big-endian; the CRC covers everything before it. The decoder takes any bytes:
// it reads nothing outside the input, allocates no more than the input's size, and names the
// first problem it finds (a torn write, a flipped bit, another format) instead of returning a
// partial state.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/key_bytes.hpp"
#include "core/saved_sadb.hpp"

namespace ipsecfs {

inline constexpr uint32_t kStateFormatVersion = 1;

// The encoded state holds keys: memory that is wiped when freed.
using StateBytes = KeyBytes;

StateBytes encode_state(const SavedSadb& state);

enum class StateProblem : uint8_t {
    none,
    truncated,        // shorter than its header says (or than a header)
    bad_magic,        // not a state file
    unknown_version,  // a format this daemon does not read
    corrupt,          // checksum mismatch, bytes after the end, or a value out of range
};

struct StateDecode {
    std::optional<SavedSadb> state;  // set when problem == none
    StateProblem problem = StateProblem::none;
    std::string message;  // one line, without the file name
};

StateDecode decode_state(std::span<const uint8_t> bytes);

}  // namespace ipsecfs
