#include "core/key_bytes.hpp"

#include <string>

namespace ipsecfs {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

Result<KeyBytes> parse_hex(std::string_view digits, const std::string& what) {
    KeyBytes out;
    int pending = -1;
    std::size_t count = 0;
    for (char c : digits) {
        if (c == '_') continue;
        const int v = hex_value(c);
        if (v < 0) return fail(what + ": '" + std::string(1, c) + "' is not a hex digit");
        ++count;
        if (pending < 0) {
            pending = v;
        } else {
            out.push_back(static_cast<uint8_t>(pending << 4 | v));
            pending = -1;
        }
    }
    if (count == 0) return fail(what + ": no hex digits after 0x");
    if (pending >= 0) {
        return fail(what + ": odd number of hex digits (" + std::to_string(count) + ")");
    }
    return out;
}

Result<KeyBytes> parse_base64(std::string_view text, const std::string& what) {
    KeyBytes out;
    uint32_t acc = 0;
    int bits = 0;
    std::size_t padding = 0, symbols = 0;
    for (char c : text) {
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding) return fail(what + ": base64 data after '=' padding");
        const int v = base64_value(c);
        if (v < 0) return fail(what + ": '" + std::string(1, c) + "' is not a base64 character");
        ++symbols;
        acc = acc << 6 | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>(acc >> bits));
        }
    }
    if (symbols == 0) return fail(what + ": no base64 data after 0s");
    if ((symbols + padding) % 4 != 0 || padding > 2) {
        return fail(what + ": base64 length is not a multiple of 4");
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return fail(what + ": base64 has stray bits");
    return out;
}

}  // namespace

Result<KeyBytes> parse_key(std::string_view text, std::string_view what_view) {
    const std::string what(what_view);
    if (text.size() < 2 || text[0] != '0') {
        return fail(what + ": key must start with 0x (hex), 0s (base64) or 0t (text)");
    }
    const auto body = text.substr(2);
    switch (text[1]) {
        case 'x':
        case 'X':
            return parse_hex(body, what);
        case 's':
        case 'S':
            return parse_base64(body, what);
        case 't':
        case 'T': {
            if (body.empty()) return fail(what + ": no text after 0t");
            return KeyBytes(body.begin(), body.end());
        }
        default:
            break;
    }
    return fail(what + ": key must start with 0x (hex), 0s (base64) or 0t (text)");
}

}  // namespace ipsecfs
