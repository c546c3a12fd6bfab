#include "core/render_json.hpp"

#include <charconv>
#include <initializer_list>
#include <vector>

namespace ipsecfs {
namespace {

void append_u64(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, end);
}

void append_i64(std::string& out, int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, end);
}

// The integer at the start of `t` (0x hex, or decimal with an optional '-'), as JSON; false when
// there is none. With `whole`, nothing may follow it.
bool append_integer(std::string& out, std::string_view t, bool whole) {
    const char* end = t.data() + t.size();
    if (t.starts_with("0x")) {
        uint64_t v = 0;
        const auto r = std::from_chars(t.data() + 2, end, v, 16);
        if (r.ec != std::errc() || (whole && r.ptr != end)) return false;
        append_u64(out, v);
        return true;
    }
    if (t.starts_with('-')) {
        int64_t v = 0;
        const auto r = std::from_chars(t.data(), end, v);
        if (r.ec != std::errc() || (whole && r.ptr != end)) return false;
        append_i64(out, v);
        return true;
    }
    uint64_t v = 0;
    const auto r = std::from_chars(t.data(), end, v);
    if (r.ec != std::errc() || (whole && r.ptr != end)) return false;
    append_u64(out, v);
    return true;
}

void append_key(std::string& out, std::string_view key) {
    append_json_string(out, key);
    out += ':';
}

// `{"name1":n1,"name2":n2,...}` from the parts of `text` split at `sep`; false (and `out`
// unchanged) unless there are exactly as many parts as names, each a whole integer.
bool append_number_object(std::string& out, std::string_view text, char sep,
                          std::initializer_list<std::string_view> names) {
    const std::size_t start = out.size();
    out += '{';
    std::size_t pos = 0;
    std::size_t parsed = 0;
    for (std::string_view name : names) {
        if (pos > text.size()) break;
        std::size_t end = text.find(sep, pos);
        if (end == std::string_view::npos) end = text.size();
        if (parsed) out += ',';
        append_key(out, name);
        if (!append_integer(out, text.substr(pos, end - pos), true)) break;
        pos = end + 1;
        ++parsed;
    }
    if (parsed != names.size() || pos != text.size() + 1) {
        out.resize(start);
        return false;
    }
    out += '}';
    return true;
}

void append_drops(std::string& out, std::string_view text) {
    out += '{';
    bool first = true;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        if (!first) out += ',';
        first = false;
        append_key(out, line.substr(0, eq));
        if (!append_integer(out, line.substr(eq + 1), true)) out += "null";
    }
    out += '}';
}

// The JSON object layout of an SA: its top-level files in SaField order, and each
// subdirectory, at the place of its first file, as an object of its files.
struct Entry {
    std::string_view key;
    std::vector<SaField> fields;  // one for a file; the directory's files for a subdirectory
    bool dir = false;
};

std::vector<Entry> sa_layout() {
    std::vector<Entry> out;
    for (std::size_t i = 0; i < kSaFieldCount; ++i) {
        const auto f = static_cast<SaField>(i);
        const std::string_view name = sa_field_name(f);
        const std::size_t slash = name.find('/');
        if (slash == std::string_view::npos) {
            out.push_back({name, {f}, false});
            continue;
        }
        const std::string_view dir = name.substr(0, slash);
        Entry* e = nullptr;
        for (Entry& candidate : out) {
            if (candidate.dir && candidate.key == dir) e = &candidate;
        }
        if (!e) e = &out.emplace_back(Entry{dir, {}, true});
        e->fields.push_back(f);
    }
    return out;
}

void append_field(std::string& out, const Sa& sa, const SadbSnapshot& snap, SaField f,
                  int64_t now_ns) {
    std::string text = render_sa_field(sa, snap, f, now_ns);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    append_json_value(out, sa_field_json_type(f), text);
}

void append_sa(std::string& out, const Sa& sa, const SadbSnapshot& snap,
               const std::vector<Entry>& layout, int64_t now_ns) {
    out += '{';
    bool first = true;
    for (const Entry& e : layout) {
        if (!first) out += ',';
        first = false;
        append_key(out, e.key);
        if (!e.dir) {
            append_field(out, sa, snap, e.fields.front(), now_ns);
            continue;
        }
        out += '{';
        for (std::size_t i = 0; i < e.fields.size(); ++i) {
            if (i) out += ',';
            const std::string_view name = sa_field_name(e.fields[i]);
            append_key(out, name.substr(name.find('/') + 1));
            append_field(out, sa, snap, e.fields[i], now_ns);
        }
        out += '}';
    }
    out += '}';
}

}  // namespace

JsonType sa_field_json_type(SaField f) {
    switch (f) {
        case SaField::said:
        case SaField::xform:
        case SaField::dir:
        case SaField::src:
        case SaField::policy:
        case SaField::iv:
        case SaField::natencap:
        case SaField::state:
            return JsonType::string;
        case SaField::iv_bits:
        case SaField::ooowin:
        case SaField::ooo_errs:
        case SaField::seq:
        case SaField::bit:
        case SaField::max_seq_diff:
        case SaField::flags:
        case SaField::alen:
        case SaField::aklen:
        case SaField::auth_errs:
        case SaField::eklen:
        case SaField::encr_size_errs:
        case SaField::encr_pad_errs:
        case SaField::idle:
        case SaField::natsport:
        case SaField::natdport:
        case SaField::add_time:
        case SaField::use_time:
        case SaField::soft_time_left:  // empty (null) without a time limit
        case SaField::hard_time_left:
            return JsonType::number;
        case SaField::ratio:
            return JsonType::ratio;
        case SaField::drops:
            return JsonType::drops;
        case SaField::life_alloc:
        case SaField::life_bytes:
        case SaField::life_add:
        case SaField::life_use:
        case SaField::life_packets:
            return JsonType::life;
        default:
            return JsonType::inferred;
    }
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (u < 0x20) {
                    out += "\\u00";
                    out += kHex[u >> 4];
                    out += kHex[u & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void append_json_value(std::string& out, JsonType type, std::string_view text) {
    switch (type) {
        case JsonType::string:
            append_json_string(out, text);
            return;
        case JsonType::number:
            if (!append_integer(out, text, false)) out += "null";
            return;
        case JsonType::boolean:
            out += text == "1" || text == "yes" || text == "true" ? "true" : "false";
            return;
        case JsonType::life:
            if (!append_number_object(out, text, ',', {"current", "soft", "hard"})) out += "null";
            return;
        case JsonType::drops:
            append_drops(out, text);
            return;
        case JsonType::ratio:
            if (text == "0") {
                out += R"({"uncompressed":0,"compressed":0})";
            } else if (!append_number_object(out, text, ':', {"uncompressed", "compressed"})) {
                out += "null";
            }
            return;
        case JsonType::inferred:
            if (!append_integer(out, text, true)) append_json_string(out, text);
            return;
    }
}

std::string render_spi_json(const SadbSnapshot& snap, int64_t now_ns) {
    static const std::vector<Entry> layout = sa_layout();
    std::string out = "{\"version\":";
    append_u64(out, kSpiJsonVersion);
    out += ",\"generated_at\":";
    append_i64(out, now_ns / 1'000'000'000);
    out += ",\"sas\":[";
    out.reserve(snap.size() * 1200);
    bool first = true;
    for (const auto& [said, sa] : snap.sas()) {
        out += first ? "\n" : ",\n";
        first = false;
        append_sa(out, *sa, snap, layout, now_ns);
    }
    out += "\n]}\n";
    return out;
}

}  // namespace ipsecfs
