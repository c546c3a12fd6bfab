#pragma once
// ipsec_spi.json: every SA with every file of its spi/<SAID>/ directory, typed, in SAID order:
//   {"version":1,"generated_at":<epoch s>,"sas":[
//   {"said":"esp.1000@192.0.2.1",...,"life":{"bytes":{"current":0,"soft":0,"hard":0},...}},
//   ...
//   ]}
// one SA per line. A field's value is its file's text (render_sa_field) read as its JSON type,
// so the two can never disagree; files of a subdirectory (life/) form a nested object.
// Pure function of a snapshot and "now"; no I/O.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/render.hpp"
#include "core/sadb.hpp"

namespace ipsecfs {

inline constexpr int kSpiJsonVersion = 1;

std::string render_spi_json(const SadbSnapshot& snap, int64_t now_ns);

// How a field file's text reads as JSON.
enum class JsonType : uint8_t {
    string,
    number,   // "123", "-5", "0x1f", "64bits", "0x8<>": the leading integer, in decimal; "": null
    boolean,  // "1"/"yes"/"true" or "0"/"no"/"false"/""
    life,     // "c,s,h" -> {"current":c,"soft":s,"hard":h}
    drops,    // "reason=N" lines -> {"reason":N,...}
    ratio,    // "u:c" (or "0") -> {"uncompressed":u,"compressed":c}
    inferred  // a field without a declared type: number when the text is an integer, else string
};
JsonType sa_field_json_type(SaField f);

// The JSON value of a file's text without its trailing newline; null when a number, life or
// ratio text does not parse.
void append_json_value(std::string& out, JsonType type, std::string_view text);
// A JSON string literal: quotes, backslash and control characters escaped.
void append_json_string(std::string& out, std::string_view s);

}  // namespace ipsecfs
