#include "core/spi_samples.hpp"

#include <algorithm>
#include <charconv>

namespace ipsecfs {
namespace {

constexpr std::string_view kLifePrefix = "life(c,s,h)=";

uint64_t number(std::string_view text) {
    uint64_t v = 0;
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
}

// The c of `name(c,s,h)` inside the life(c,s,h)= field, 0 when the item is not there.
uint64_t life_c(std::string_view items, std::string_view name) {
    for (std::size_t pos = 0; pos < items.size();) {
        const std::size_t open = items.find('(', pos);
        const std::size_t close = items.find(')', open);
        if (open == std::string_view::npos || close == std::string_view::npos) break;
        if (items.substr(pos, open - pos) == name) {
            const std::string_view triple = items.substr(open + 1, close - open - 1);
            return number(triple.substr(0, triple.find(',')));
        }
        pos = close + 1;
    }
    return 0;
}

bool parse_line(std::string_view line, SaSample& out) {
    std::size_t pos = line.find(' ');
    if (pos == std::string_view::npos) return false;
    out.said = line.substr(0, pos);
    const std::size_t xform_end = line.find(' ', pos + 1);
    const std::string_view xform = line.substr(pos + 1, xform_end - pos - 1);
    if (xform.size() < 2 || xform.back() != ':') return false;
    out.xform = xform.substr(0, xform.size() - 1);
    bool has_dir = false;
    for (pos = xform_end; pos != std::string_view::npos && pos < line.size();) {
        const std::size_t next = line.find(' ', pos + 1);
        const std::string_view field = line.substr(pos + 1, next - pos - 1);
        pos = next;
        if (field.starts_with(kLifePrefix)) {
            const std::string_view items = field.substr(kLifePrefix.size());
            out.age = life_c(items, "add");
            out.bytes = life_c(items, "bytes");
            out.packets = life_c(items, "packets");
            continue;
        }
        const std::size_t eq = field.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view name = field.substr(0, eq);
        const std::string_view value = field.substr(eq + 1);
        if (name == "dir") {
            has_dir = true;
            out.inbound = value == "in";
        } else if (name == "ooo_errs" || name == "auth_errs" || name == "encr_size_errs" ||
                   name == "encr_pad_errs") {
            out.errors += number(value);
        }
    }
    return has_dir;
}

}  // namespace

std::vector<SaSample> parse_spi_samples(std::string_view text) {
    std::vector<SaSample> out;
    out.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')));
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        SaSample s;
        if (parse_line(line, s)) out.push_back(std::move(s));
    }
    return out;
}

}  // namespace ipsecfs
