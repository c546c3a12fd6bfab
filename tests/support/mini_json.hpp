#pragma once
// A strict little JSON reader for tests that check a renderer's output structurally: it accepts
// RFC 8259 text only (no trailing commas, no leading zeros, escapes as the RFC lists them) and
// keeps numbers as their text, so 64-bit integers compare exactly.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipsecfs::testing {

struct Json {
    enum class Kind { null, boolean, number, string, array, object };
    Kind kind = Kind::null;
    bool boolean = false;
    std::string text;  // a number's digits or a string's decoded value
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members;  // in document order

    const Json* get(std::string_view key) const {
        for (const auto& [k, v] : members) {
            if (k == key) return &v;
        }
        return nullptr;
    }
};

class JsonReader {
  public:
    // The value of the whole text (surrounding whitespace allowed), nullopt when it is not JSON.
    static std::optional<Json> parse(std::string_view text) {
        JsonReader r(text);
        auto v = r.value(0);
        r.space();
        if (!v || r.pos_ != text.size()) return std::nullopt;
        return v;
    }

  private:
    explicit JsonReader(std::string_view s) : s_(s) {}

    static constexpr int kMaxDepth = 32;

    void space() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
            ++pos_;
    }
    bool eat(char c) {
        space();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w) return false;
        pos_ += w.size();
        return true;
    }
    static bool digit(char c) { return c >= '0' && c <= '9'; }

    std::optional<Json> value(int depth) {
        if (depth > kMaxDepth) return std::nullopt;
        space();
        if (pos_ >= s_.size()) return std::nullopt;
        Json v;
        const char c = s_[pos_];
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') {
            auto s = string();
            if (!s) return std::nullopt;
            v.kind = Json::Kind::string;
            v.text = *s;
            return v;
        }
        if (word("null")) return v;
        v.kind = Json::Kind::boolean;
        if (word("true")) {
            v.boolean = true;
            return v;
        }
        if (word("false")) return v;
        return number();
    }

    std::optional<Json> number() {
        const std::size_t start = pos_;
        if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
        if (pos_ >= s_.size() || !digit(s_[pos_])) return std::nullopt;
        if (s_[pos_] == '0' && pos_ + 1 < s_.size() && digit(s_[pos_ + 1])) return std::nullopt;
        while (pos_ < s_.size() && digit(s_[pos_]))
            ++pos_;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            if (pos_ >= s_.size() || !digit(s_[pos_])) return std::nullopt;
            while (pos_ < s_.size() && digit(s_[pos_]))
                ++pos_;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (pos_ >= s_.size() || !digit(s_[pos_])) return std::nullopt;
            while (pos_ < s_.size() && digit(s_[pos_]))
                ++pos_;
        }
        Json v;
        v.kind = Json::Kind::number;
        v.text = std::string(s_.substr(start, pos_ - start));
        return v;
    }

    std::optional<std::string> string() {
        if (!eat('"')) return std::nullopt;
        std::string out;
        while (pos_ < s_.size()) {
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) return std::nullopt;
            switch (s_[pos_++]) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    if (pos_ + 4 > s_.size()) return std::nullopt;
                    unsigned cp = 0;
                    for (int i = 0; i < 4; ++i) {
                        const char h = s_[pos_++];
                        cp <<= 4;
                        if (digit(h)) {
                            cp |= static_cast<unsigned>(h - '0');
                        } else if (h >= 'a' && h <= 'f') {
                            cp |= static_cast<unsigned>(h - 'a' + 10);
                        } else if (h >= 'A' && h <= 'F') {
                            cp |= static_cast<unsigned>(h - 'A' + 10);
                        } else {
                            return std::nullopt;
                        }
                    }
                    if (cp >= 0x80) return std::nullopt;  // tests only need ASCII escapes
                    out += static_cast<char>(cp);
                    break;
                }
                default:
                    return std::nullopt;
            }
        }
        return std::nullopt;
    }

    std::optional<Json> array(int depth) {
        eat('[');
        Json v;
        v.kind = Json::Kind::array;
        if (eat(']')) return v;
        do {
            auto item = value(depth + 1);
            if (!item) return std::nullopt;
            v.items.push_back(std::move(*item));
        } while (eat(','));
        if (!eat(']')) return std::nullopt;
        return v;
    }

    std::optional<Json> object(int depth) {
        eat('{');
        Json v;
        v.kind = Json::Kind::object;
        if (eat('}')) return v;
        do {
            space();
            auto key = string();
            if (!key || !eat(':')) return std::nullopt;
            auto member = value(depth + 1);
            if (!member) return std::nullopt;
            v.members.emplace_back(std::move(*key), std::move(*member));
        } while (eat(','));
        if (!eat('}')) return std::nullopt;
        return v;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace ipsecfs::testing
