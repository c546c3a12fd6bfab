// The state file decoder on any bytes, twice: as they are (magic, version, length and checksum
// checks) and as the payload of a well-formed envelope with a correct CRC, so the fuzzer gets
// past the checksum to the records. What decodes must encode to bytes that decode again and
// encode the same; a refusal names its problem in one line. Seeds: encoded states of a few SAs.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/crc32.hpp"
#include "core/state_codec.hpp"

using namespace ipsecfs;

namespace {

void put_be(StateBytes& out, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void check(std::span<const uint8_t> bytes) {
    const StateDecode d = decode_state(bytes);
    if (!d.state) {
        if (d.problem == StateProblem::none || d.message.empty() ||
            d.message.find('\n') != std::string::npos) {
            __builtin_trap();
        }
        return;
    }
    if (d.problem != StateProblem::none) __builtin_trap();
    const StateBytes once = encode_state(*d.state);
    const StateDecode again = decode_state(once);
    if (!again.state || encode_state(*again.state) != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    check({data, size});

    StateBytes framed = {'I', 'P', 'S', 'E', 'C', 'F', 'S', '\0'};
    put_be(framed, kStateFormatVersion, 4);
    put_be(framed, size, 8);
    framed.insert(framed.end(), data, data + size);
    put_be(framed, crc32(0, framed), 4);
    check(framed);
    return 0;
}
