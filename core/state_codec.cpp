#include "core/state_codec.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "core/crc32.hpp"
#include "core/lifetime.hpp"
#include "core/sadb.hpp"

namespace ipsecfs {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'I', 'P', 'S', 'E', 'C', 'F', 'S', '\0'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 8;
constexpr std::size_t kTrailerBytes = 4;
constexpr uint8_t kCleanShutdown = 1;
constexpr uint8_t kSoftReported = 1;
constexpr uint8_t kHardReported = 2;

// ---- encoding -------------------------------------------------------------------------------

class Writer {
  public:
    explicit Writer(StateBytes& out) : out_(out) {}

    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v) { be(v, 2); }
    void u32(uint32_t v) { be(v, 4); }
    void u64(uint64_t v) { be(v, 8); }
    void i64(int64_t v) { be(static_cast<uint64_t>(v), 8); }
    void flag(bool v) { u8(v ? 1 : 0); }
    void blob16(std::span<const uint8_t> b) {
        u16(static_cast<uint16_t>(b.size()));
        out_.insert(out_.end(), b.begin(), b.end());
    }
    void name8(std::string_view s) {
        u8(static_cast<uint8_t>(s.size()));
        out_.insert(out_.end(), s.begin(), s.end());
    }
    void addr(const IpAddress& a) {
        u8(static_cast<uint8_t>(a.family()));
        out_.insert(out_.end(), a.bytes().begin(), a.bytes().end());
    }
    void prefix(const Prefix& p) {
        addr(p.addr);
        u8(p.bits);
    }
    void said(const Said& s) {
        u8(static_cast<uint8_t>(s.proto));
        u32(s.spi);
        addr(s.dst);
    }

  private:
    void be(uint64_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i)
            out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    StateBytes& out_;
};

void write_counters(Writer& w, const SavedCounters& k, uint64_t seq_reserved) {
    for (uint64_t v : {k.bytes, k.packets})
        w.u64(v);
    w.i64(k.first_use_ns);
    w.i64(k.last_use_ns);
    for (uint64_t v :
         {k.ooo_errs, k.auth_errs, k.encr_size_errs, k.encr_pad_errs, k.comp_uncompressed,
          k.comp_compressed, k.seq, k.bitmap, k.max_seq_diff, seq_reserved})
        w.u64(v);
    w.u8(static_cast<uint8_t>(k.life_state));
    w.u8(k.soft_cause);
    w.u8(k.hard_cause);
    w.u64(k.soft_value);
    w.u64(k.hard_value);
    w.u8(static_cast<uint8_t>((k.soft_reported ? kSoftReported : 0) |
                              (k.hard_reported ? kHardReported : 0)));
    // Drops by name, so that a later daemon with more reasons reads them in the right place.
    uint8_t n = 0;
    for (uint64_t d : k.drops)
        n = static_cast<uint8_t>(n + (d != 0));
    w.u8(n);
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        if (k.drops[i] == 0) continue;
        w.name8(kDropReasonNames[i]);
        w.u64(k.drops[i]);
    }
}

void write_sa(Writer& w, const SavedSa& s) {
    const SaConfig& c = s.config;
    w.said(c.said);
    w.u8(static_cast<uint8_t>(c.xform.proto));
    w.u8(static_cast<uint8_t>(c.xform.enc));
    w.u8(static_cast<uint8_t>(c.xform.auth));
    w.u8(static_cast<uint8_t>(c.xform.comp));
    w.u16(c.xform.enc_key_bits);
    w.u8(static_cast<uint8_t>(c.dir));
    w.addr(c.src);
    w.flag(c.tunnel_dst.has_value());
    if (c.tunnel_dst) w.addr(*c.tunnel_dst);
    w.blob16(c.enc_key);
    w.blob16(c.auth_key);
    w.blob16(c.iv);
    w.u32(c.replay_window);
    w.flag(c.esn);
    w.u64(c.initial_seq);
    w.u8(static_cast<uint8_t>(c.natt));
    w.u16(c.natt_sport);
    w.u16(c.natt_dport);
    for (const LifeLimit& l : c.life) {
        w.u64(l.soft);
        w.u64(l.hard);
    }
    w.i64(s.added_ns);
    write_counters(w, s.counters, s.seq_reserved);
}

// ---- decoding -------------------------------------------------------------------------------

// Reads big-endian values from a span; the first read past the end or of a value out of range
// sets error() and makes every later read fail too.
class Reader {
  public:
    Reader(std::span<const uint8_t> in, std::size_t base) : in_(in), base_(base) {}

    bool ok() const { return error_.empty(); }
    bool at_end() const { return pos_ == in_.size(); }
    const std::string& error() const { return error_; }
    // Names the value read last (or being read), by its offset in the file.
    bool fail(std::string_view what) {
        if (ok()) error_ = std::string(what) + " at byte " + std::to_string(base_ + start_);
        return false;
    }

    bool u8(uint8_t& v) { return be(v); }
    bool u16(uint16_t& v) { return be(v); }
    bool u32(uint32_t& v) { return be(v); }
    bool u64(uint64_t& v) { return be(v); }
    bool i64(int64_t& v) {
        uint64_t u = 0;
        if (!be(u)) return false;
        v = static_cast<int64_t>(u);
        return true;
    }
    bool flag(bool& v) {
        uint8_t b = 0;
        if (!u8(b)) return false;
        if (b > 1) return fail("a flag is neither 0 nor 1");
        v = b == 1;
        return true;
    }
    std::span<const uint8_t> take(std::size_t n) {
        start_ = pos_;
        if (!ok() || in_.size() - pos_ < n) {
            fail("the state ends inside a value");
            return {};
        }
        auto s = in_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    template <class Bytes>
    bool blob16(Bytes& out) {
        uint16_t n = 0;
        if (!u16(n)) return false;
        const auto s = take(n);
        if (!ok()) return false;
        out.assign(s.begin(), s.end());
        return true;
    }
    bool name8(std::string& out) {
        uint8_t n = 0;
        if (!u8(n)) return false;
        const auto s = take(n);
        if (!ok()) return false;
        out.assign(s.begin(), s.end());
        return true;
    }
    bool addr(IpAddress& a) {
        uint8_t family = 0;
        if (!u8(family)) return false;
        if (family == 4) {
            const auto s = take(4);
            if (!ok()) return false;
            a = IpAddress::v4(s.first<4>());
            return true;
        }
        if (family == 6) {
            const auto s = take(16);
            if (!ok()) return false;
            a = IpAddress::v6(s.first<16>());
            return true;
        }
        return fail("an address family is neither 4 nor 6");
    }
    bool prefix(Prefix& p) {
        if (!addr(p.addr) || !u8(p.bits)) return false;
        if (p.bits > p.addr.bits() || p.addr.masked(p.bits) != p.addr)
            return fail("a prefix length does not fit its address");
        return true;
    }
    bool proto(SaProto& p) {
        uint8_t v = 0;
        if (!u8(v)) return false;
        switch (static_cast<SaProto>(v)) {
            case SaProto::tun:
            case SaProto::esp:
            case SaProto::ah:
            case SaProto::comp:
                p = static_cast<SaProto>(v);
                return true;
        }
        return fail("unknown SA protocol " + std::to_string(v));
    }
    bool said(Said& s) { return proto(s.proto) && u32(s.spi) && addr(s.dst); }
    // An enum whose values are 0..last.
    template <class E>
    bool small_enum(E& e, E last, std::string_view what) {
        uint8_t v = 0;
        if (!u8(v)) return false;
        if (v > static_cast<uint8_t>(last)) return fail("unknown " + std::string(what));
        e = static_cast<E>(v);
        return true;
    }

  private:
    template <class T>
    bool be(T& v) {
        const auto s = take(sizeof(T));
        if (!ok()) return false;
        uint64_t acc = 0;
        for (uint8_t b : s)
            acc = acc << 8 | b;
        v = static_cast<T>(acc);
        return true;
    }

    std::span<const uint8_t> in_;
    std::size_t base_;  // offset of in_ in the file, for messages
    std::size_t pos_ = 0;
    std::size_t start_ = 0;
    std::string error_;
};

// A transform the algorithm registry knows, exactly as `ipsec spi` makes it.
bool known_transform(const Transform& t) {
    switch (t.proto) {
        case SaProto::tun:
            return t == Transform{SaProto::tun, EncAlg::none, AuthAlg::none, CompAlg::none, 0};
        case SaProto::comp:
            return t == Transform{SaProto::comp, EncAlg::none, AuthAlg::none, CompAlg::deflate, 0};
        case SaProto::esp: {
            const auto parsed = parse_esp_name(transform_option_name(t));
            return parsed && *parsed == t;
        }
        case SaProto::ah: {
            const auto parsed = parse_ah_name(transform_option_name(t));
            return parsed && *parsed == t;
        }
    }
    return false;
}

bool read_counters(Reader& r, SavedCounters& k, uint64_t& seq_reserved) {
    if (!r.u64(k.bytes) || !r.u64(k.packets) || !r.i64(k.first_use_ns) || !r.i64(k.last_use_ns))
        return false;
    for (uint64_t* v :
         {&k.ooo_errs, &k.auth_errs, &k.encr_size_errs, &k.encr_pad_errs, &k.comp_uncompressed,
          &k.comp_compressed, &k.seq, &k.bitmap, &k.max_seq_diff, &seq_reserved}) {
        if (!r.u64(*v)) return false;
    }
    constexpr auto kCauses = static_cast<uint8_t>(static_cast<uint8_t>(ExpiryCause::group) + 1);
    uint8_t reported = 0;
    if (!r.small_enum(k.life_state, LifeState::expired, "lifetime state") ||
        !r.small_enum(k.soft_cause, kCauses, "soft expiry cause") ||
        !r.small_enum(k.hard_cause, kCauses, "hard expiry cause") || !r.u64(k.soft_value) ||
        !r.u64(k.hard_value) ||
        !r.small_enum(reported, uint8_t{kSoftReported | kHardReported}, "reported flags"))
        return false;
    k.soft_reported = (reported & kSoftReported) != 0;
    k.hard_reported = (reported & kHardReported) != 0;
    uint8_t n = 0;
    if (!r.u8(n)) return false;
    for (uint8_t i = 0; i < n; ++i) {
        std::string name;
        uint64_t count = 0;
        if (!r.name8(name) || !r.u64(count)) return false;
        // A reason this daemon does not know (a later version's) is not carried over.
        for (std::size_t d = 0; d < kDropReasonCount; ++d) {
            if (kDropReasonNames[d] == name) k.drops[d] = count;
        }
    }
    return true;
}

bool read_sa(Reader& r, SavedSa& s) {
    SaConfig& c = s.config;
    Transform& t = c.xform;
    if (!r.said(c.said) || !r.proto(t.proto) ||
        !r.small_enum(t.enc, EncAlg::chacha20_poly1305, "encryption algorithm") ||
        !r.small_enum(t.auth, AuthAlg::hmac_sha256_128, "authentication algorithm") ||
        !r.small_enum(t.comp, CompAlg::deflate, "compression algorithm") || !r.u16(t.enc_key_bits))
        return false;
    if (!known_transform(t)) return r.fail("unknown transform");
    bool has_tunnel_dst = false;
    if (!r.small_enum(c.dir, Direction::out, "direction") || !r.addr(c.src) ||
        !r.flag(has_tunnel_dst))
        return false;
    if (has_tunnel_dst) {
        IpAddress dst;
        if (!r.addr(dst)) return false;
        c.tunnel_dst = dst;
    }
    if (!r.blob16(c.enc_key) || !r.blob16(c.auth_key) || !r.blob16(c.iv) ||
        !r.u32(c.replay_window) || !r.flag(c.esn) || !r.u64(c.initial_seq) ||
        !r.small_enum(c.natt, NatEncap::nonesp, "NAT encapsulation") || !r.u16(c.natt_sport) ||
        !r.u16(c.natt_dport))
        return false;
    for (LifeLimit& l : c.life) {
        if (!r.u64(l.soft) || !r.u64(l.hard)) return false;
    }
    return r.i64(s.added_ns) && read_counters(r, s.counters, s.seq_reserved);
}

bool read_payload(Reader& r, SavedSadb& st) {
    uint8_t flags = 0;
    if (!r.i64(st.saved_at_ns) || !r.u8(flags)) return false;
    if ((flags & ~kCleanShutdown) != 0) return r.fail("unknown flags");
    st.clean_shutdown = (flags & kCleanShutdown) != 0;

    // Each record takes at least one byte, so no count can make the vectors outgrow the input.
    uint32_t n = 0;
    if (!r.u32(n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
        SavedSa sa;
        if (!read_sa(r, sa)) return false;
        st.sas.push_back(std::move(sa));
    }
    if (!r.u32(n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
        uint8_t size = 0;
        if (!r.u8(size)) return false;
        if (size == 0 || size > SaGroup::kMaxSize)
            return r.fail("a group of " + std::to_string(size) + " SAs");
        std::vector<Said> group(size);
        for (Said& s : group) {
            if (!r.said(s)) return false;
        }
        st.groups.push_back(std::move(group));
    }
    if (!r.u32(n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
        SavedEroute e;
        if (!r.prefix(e.src) || !r.prefix(e.dst) || !r.said(e.said) || !r.u64(e.packets))
            return false;
        st.eroutes.push_back(e);
    }
    if (!r.u32(n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
        SavedPolicy p;
        if (!r.said(p.said) || !r.prefix(p.policy.src) || !r.prefix(p.policy.dst)) return false;
        st.policies.push_back(p);
    }
    if (!r.at_end()) return r.fail("unexpected data after the last policy");
    return true;
}

uint64_t read_be(std::span<const uint8_t> s) {
    uint64_t v = 0;
    for (uint8_t b : s)
        v = v << 8 | b;
    return v;
}

StateDecode problem(StateProblem p, std::string message) {
    StateDecode d;
    d.problem = p;
    d.message = std::move(message);
    return d;
}

}  // namespace

StateBytes encode_state(const SavedSadb& st) {
    StateBytes out;
    Writer w(out);
    for (uint8_t b : kMagic)
        w.u8(b);
    w.u32(kStateFormatVersion);
    w.u64(0);  // payload length, filled in below
    w.i64(st.saved_at_ns);
    w.u8(st.clean_shutdown ? kCleanShutdown : 0);
    w.u32(static_cast<uint32_t>(st.sas.size()));
    for (const SavedSa& sa : st.sas)
        write_sa(w, sa);
    w.u32(static_cast<uint32_t>(st.groups.size()));
    for (const auto& g : st.groups) {
        w.u8(static_cast<uint8_t>(g.size()));
        for (const Said& s : g)
            w.said(s);
    }
    w.u32(static_cast<uint32_t>(st.eroutes.size()));
    for (const SavedEroute& e : st.eroutes) {
        w.prefix(e.src);
        w.prefix(e.dst);
        w.said(e.said);
        w.u64(e.packets);
    }
    w.u32(static_cast<uint32_t>(st.policies.size()));
    for (const SavedPolicy& p : st.policies) {
        w.said(p.said);
        w.prefix(p.policy.src);
        w.prefix(p.policy.dst);
    }
    const uint64_t payload = out.size() - kHeaderBytes;
    for (int i = 0; i < 8; ++i)
        out[12 + i] = static_cast<uint8_t>(payload >> (8 * (7 - i)));
    w.u32(crc32(0, out));
    return out;
}

StateDecode decode_state(std::span<const uint8_t> bytes) {
    const std::size_t size = bytes.size();
    const std::size_t magic = std::min(size, kMagic.size());
    if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(magic),
                    kMagic.begin()))
        return problem(StateProblem::bad_magic, "not an ipsecfs state file (bad magic)");
    if (size < kHeaderBytes) {
        return problem(StateProblem::truncated,
                       "truncated: " + std::to_string(size) + " bytes, shorter than the header");
    }
    const auto version = static_cast<uint32_t>(read_be(bytes.subspan(8, 4)));
    if (version != kStateFormatVersion) {
        return problem(StateProblem::unknown_version,
                       "unknown format version " + std::to_string(version) +
                           " (this ipsec-mountd reads version " +
                           std::to_string(kStateFormatVersion) + ")");
    }
    const uint64_t payload = read_be(bytes.subspan(12, 8));
    const std::size_t body = size - kHeaderBytes;
    if (payload > body || body - payload < kTrailerBytes) {
        return problem(StateProblem::truncated,
                       "truncated: " + std::to_string(size) + " bytes, the header announces " +
                           (payload > UINT64_MAX - kHeaderBytes - kTrailerBytes
                                ? std::string("more")
                                : std::to_string(payload + kHeaderBytes + kTrailerBytes)));
    }
    const std::size_t end = kHeaderBytes + payload;
    if (body - payload > kTrailerBytes) {
        return problem(StateProblem::corrupt,
                       "corrupt: " + std::to_string(size - end - kTrailerBytes) +
                           " bytes after the end of the state");
    }
    const auto stored = static_cast<uint32_t>(read_be(bytes.subspan(end, kTrailerBytes)));
    if (crc32(0, bytes.first(end)) != stored)
        return problem(StateProblem::corrupt, "corrupt: checksum mismatch");

    Reader r(bytes.subspan(kHeaderBytes, payload), kHeaderBytes);
    SavedSadb st;
    if (!read_payload(r, st)) return problem(StateProblem::corrupt, "corrupt: " + r.error());
    StateDecode d;
    d.state = std::move(st);
    return d;
}

}  // namespace ipsecfs
