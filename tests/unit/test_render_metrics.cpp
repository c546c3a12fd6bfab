#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/render_metrics.hpp"
#include "tests/support/clocked_sadb.hpp"

namespace ipsecfs {
namespace {

using testing::ClockedSadb;
using testing::hex_key;
using testing::kSecond;

// One sample line: name, labels in order, value text.
struct Sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    std::string value;

    std::optional<std::string> label(std::string_view key) const {
        for (const auto& [k, v] : labels) {
            if (k == key) return v;
        }
        return std::nullopt;
    }
};

bool name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

// Parses `name{k="v",...} value` by the exposition format's rules (label values unescaped).
std::optional<Sample> parse_sample(std::string_view line) {
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0))
        s.name += line[i++];
    if (s.name.empty()) return std::nullopt;
    if (i < line.size() && line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
            std::string key;
            while (i < line.size() && name_char(line[i], key.empty()))
                key += line[i++];
            if (key.empty() || line.substr(i, 2) != "=\"") return std::nullopt;
            i += 2;
            std::string value;
            for (; i < line.size() && line[i] != '"'; ++i) {
                if (line[i] == '\n') return std::nullopt;
                if (line[i] != '\\') {
                    value += line[i];
                    continue;
                }
                if (++i >= line.size()) return std::nullopt;
                if (line[i] == 'n') {
                    value += '\n';
                } else if (line[i] == '\\' || line[i] == '"') {
                    value += line[i];
                } else {
                    return std::nullopt;
                }
            }
            if (i >= line.size()) return std::nullopt;
            ++i;  // closing quote
            s.labels.emplace_back(key, value);
            if (i < line.size() && line[i] == ',') ++i;
        }
        if (i >= line.size()) return std::nullopt;
        ++i;  // closing brace
    }
    if (i >= line.size() || line[i] != ' ') return std::nullopt;
    s.value = std::string(line.substr(i + 1));
    if (s.value.empty() || s.value.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return s;
}

// Checks the structure every scraper relies on and returns the samples: every line a HELP, a
// TYPE or a sample; each family's HELP then TYPE once, before its samples, which are contiguous.
std::vector<Sample> check_exposition(const std::string& text) {
    REQUIRE(!text.empty());
    REQUIRE(text.back() == '\n');
    std::vector<Sample> out;
    std::set<std::string> families;
    std::string current, help_of;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t end = text.find('\n', pos);
        const std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        INFO(line);
        if (line.starts_with("# HELP ")) {
            const std::string rest = line.substr(7);
            help_of = rest.substr(0, rest.find(' '));
            REQUIRE(rest.size() > help_of.size() + 1);
            REQUIRE(families.insert(help_of).second);
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            REQUIRE(name == help_of);
            const std::string type = rest.substr(name.size() + 1);
            REQUIRE((type == "counter" || type == "gauge"));
            CHECK(name.ends_with("_total") == (type == "counter"));
            current = name;
            continue;
        }
        auto s = parse_sample(line);
        REQUIRE(s);
        REQUIRE(s->name == current);
        out.push_back(*s);
    }
    return out;
}

// The ipsec_drops_total samples: every reason, zero unless listed.
std::string daemon_drops(const std::map<std::string, uint64_t>& nonzero) {
    std::string out;
    for (std::string_view r : kDropReasonNames) {
        const auto it = nonzero.find(std::string(r));
        out += "ipsec_drops_total{reason=\"" + std::string(r) + "\"} " +
               std::to_string(it == nonzero.end() ? 0 : it->second) + "\n";
    }
    return out;
}

}  // namespace

TEST_CASE("metrics: the exact text for a small SADB", "[core][render][metrics]") {
    ClockedSadb d;
    d.must("spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey " +
           hex_key(20));
    d.must("spi --said esp.2000@192.0.2.2 --src 192.0.2.1 --esp aes128-sha1-96 --enckey " +
           hex_key(16) + " --authkey " + hex_key(20) +
           " --life soft-bytes=1000,hard-addtime=3600 --seq 7");
    d.must("spi --said tun.3000@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2");
    d.must("spigrp --said tun.3000@192.0.2.2 esp.2000@192.0.2.2");
    d.must(
        "eroute --add --eraf inet --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "
        "tun.3000@192.0.2.2");
    d.now += 100 * kSecond;

    SaCounters& in = d.counters("esp.1000@192.0.2.1");
    in.bytes.set(1500);
    in.packets.set(3);
    in.count_drop(DropReason::auth_failed);  // and auth_errs
    in.first_use_ns = d.now - 20 * kSecond;
    in.last_use_ns = d.now - 5 * kSecond;

    DataplaneStatus status;
    status.packets_out.set(4);
    status.packets_in.set(3);
    status.esp_out.set(4);
    status.esp_in.set(5);
    status.tun_read_frames.set(2);
    status.tun_read_bytes.set(2900);
    status.tun_write_frames.set(3);
    status.tun_write_bytes.set(1500);
    status.count_drop(DropReason::no_eroute, 2);
    status.count_drop(DropReason::auth_failed);

    const std::string tun =
        R"(said="tun.3000@192.0.2.2",direction="out",protocol="tun",transform="IPIP")";
    const std::string esp_in =
        R"(said="esp.1000@192.0.2.1",direction="in",protocol="esp",transform="ESP_AES_GCM_16")";
    const std::string esp_out =
        R"(said="esp.2000@192.0.2.2",direction="out",protocol="esp",transform="ESP_AES_HMAC_SHA1")";
    const auto three = [&](const std::string& name, const std::string& a, const std::string& b,
                           const std::string& c) {
        return name + "{" + tun + "} " + a + "\n" + name + "{" + esp_in + "} " + b + "\n" + name +
               "{" + esp_out + "} " + c + "\n";
    };

    std::string expected =
        "# HELP ipsec_packets_total Clear packets read from (out) or written to (in) the TUN "
        "device.\n"
        "# TYPE ipsec_packets_total counter\n"
        "ipsec_packets_total{direction=\"out\"} 4\n"
        "ipsec_packets_total{direction=\"in\"} 3\n"
        "# HELP ipsec_protected_packets_total Protected packets sent (out) or received (in).\n"
        "# TYPE ipsec_protected_packets_total counter\n"
        "ipsec_protected_packets_total{direction=\"out\"} 4\n"
        "ipsec_protected_packets_total{direction=\"in\"} 5\n"
        "# HELP ipsec_tun_frames_total Frames read from (out) or written to (in) the TUN device; "
        "with offloads one frame may carry many TCP segments.\n"
        "# TYPE ipsec_tun_frames_total counter\n"
        "ipsec_tun_frames_total{direction=\"out\"} 2\n"
        "ipsec_tun_frames_total{direction=\"in\"} 3\n"
        "# HELP ipsec_tun_bytes_total Bytes of the frames read from (out) or written to (in) the "
        "TUN device.\n"
        "# TYPE ipsec_tun_bytes_total counter\n"
        "ipsec_tun_bytes_total{direction=\"out\"} 2900\n"
        "ipsec_tun_bytes_total{direction=\"in\"} 1500\n"
        "# HELP ipsec_drops_total Packets dropped by the daemon, by reason, with or without a "
        "known SA.\n"
        "# TYPE ipsec_drops_total counter\n";
    expected += daemon_drops({{"no_eroute", 2}, {"auth_failed", 1}});
    expected +=
        "# HELP ipsec_sas Security Associations in the SADB.\n"
        "# TYPE ipsec_sas gauge\n"
        "ipsec_sas 3\n"
        "# HELP ipsec_eroutes Eroutes (outbound policies).\n"
        "# TYPE ipsec_eroutes gauge\n"
        "ipsec_eroutes 1\n"
        "# HELP ipsec_groups SA groups (spigrp).\n"
        "# TYPE ipsec_groups gauge\n"
        "ipsec_groups 1\n"
        "# HELP ipsec_sa_bytes_total Clear bytes protected (out) or delivered (in) by the SA.\n"
        "# TYPE ipsec_sa_bytes_total counter\n" +
        three("ipsec_sa_bytes_total", "0", "1500", "0") +
        "# HELP ipsec_sa_packets_total Packets protected (out) or delivered (in) by the SA.\n"
        "# TYPE ipsec_sa_packets_total counter\n" +
        three("ipsec_sa_packets_total", "0", "3", "0") +
        "# HELP ipsec_sa_ooo_errs_total Packets replayed or left of the replay window "
        "(ooo_errs); absent while zero.\n"
        "# TYPE ipsec_sa_ooo_errs_total counter\n"
        "# HELP ipsec_sa_auth_errs_total Packets whose integrity check failed (auth_errs); absent "
        "while zero.\n"
        "# TYPE ipsec_sa_auth_errs_total counter\n"
        "ipsec_sa_auth_errs_total{" +
        esp_in +
        "} 1\n"
        "# HELP ipsec_sa_encr_size_errs_total Packets whose ciphertext had an impossible size "
        "(encr_size_errs); absent while zero.\n"
        "# TYPE ipsec_sa_encr_size_errs_total counter\n"
        "# HELP ipsec_sa_encr_pad_errs_total Packets whose ESP padding was wrong "
        "(encr_pad_errs); absent while zero.\n"
        "# TYPE ipsec_sa_encr_pad_errs_total counter\n"
        "# HELP ipsec_sa_drops_total Packets of the SA dropped, by reason; absent while zero.\n"
        "# TYPE ipsec_sa_drops_total counter\n"
        "ipsec_sa_drops_total{" +
        esp_in +
        ",reason=\"auth_failed\"} 1\n"
        "# HELP ipsec_sa_age_seconds Seconds since the SA was added.\n"
        "# TYPE ipsec_sa_age_seconds gauge\n" +
        three("ipsec_sa_age_seconds", "100", "100", "100") +
        "# HELP ipsec_sa_idle_seconds Seconds since the SA's last packet; absent until its first "
        "packet.\n"
        "# TYPE ipsec_sa_idle_seconds gauge\n"
        "ipsec_sa_idle_seconds{" +
        esp_in +
        "} 5\n"
        "# HELP ipsec_sa_lifetime_limit Lifetime limits that are set (allocations: eroutes, bytes, "
        "addtime and usetime: seconds, packets).\n"
        "# TYPE ipsec_sa_lifetime_limit gauge\n"
        "ipsec_sa_lifetime_limit{" +
        esp_out +
        ",kind=\"bytes\",limit=\"soft\"} 1000\n"
        "ipsec_sa_lifetime_limit{" +
        esp_out +
        ",kind=\"addtime\",limit=\"hard\"} 3600\n"
        "# HELP ipsec_sa_replay_window Replay window of an inbound AH or ESP SA, in packets.\n"
        "# TYPE ipsec_sa_replay_window gauge\n"
        "ipsec_sa_replay_window{" +
        esp_in +
        "} 32\n"
        "# HELP ipsec_sa_sequence_headroom Sequence numbers an outbound AH or ESP SA may still "
        "send (2^32-1, with ESN 2^64-1, minus the last sent).\n"
        "# TYPE ipsec_sa_sequence_headroom gauge\n"
        "ipsec_sa_sequence_headroom{" +
        esp_out + "} 4294967288\n";

    const std::string text = render_metrics(*d.db.snapshot(), status, d.now);
    CHECK(text == expected);
    check_exposition(text);
}

TEST_CASE("metrics: an empty SADB still names every family", "[core][render][metrics]") {
    ClockedSadb d;
    DataplaneStatus status;
    const std::string text = render_metrics(*d.db.snapshot(), status, d.now);
    const auto samples = check_exposition(text);
    // packets 2, protected packets 2, TUN frames 2 and bytes 2, one per drop reason, SAs,
    // eroutes, groups
    CHECK(samples.size() == 8 + kDropReasonCount + 3);
    for (std::string_view family :
         {"ipsec_sa_bytes_total", "ipsec_sa_packets_total", "ipsec_sa_ooo_errs_total",
          "ipsec_sa_auth_errs_total", "ipsec_sa_encr_size_errs_total",
          "ipsec_sa_encr_pad_errs_total", "ipsec_sa_drops_total", "ipsec_sa_age_seconds",
          "ipsec_sa_idle_seconds", "ipsec_sa_lifetime_limit", "ipsec_sa_replay_window",
          "ipsec_sa_sequence_headroom"}) {
        INFO(family);
        CHECK(text.find("# TYPE " + std::string(family) + " ") != std::string::npos);
    }
    CHECK(text.find("ipsec_sas 0\n") != std::string::npos);
}

TEST_CASE("metrics: every SA and every drop reason appear, labels as the SA has them",
          "[core][render][metrics]") {
    ClockedSadb d;
    d.must("spi --said esp.100@192.0.2.1 --src 192.0.2.2 --esp 3des-md5-96 --enckey " +
           hex_key(24) + " --authkey " + hex_key(16));
    d.must("spi --said esp:101@2001:db8::2 --src 2001:db8::1 --esp chacha20poly1305 --enckey " +
           hex_key(36) + " --esn --seq 0x10000000000");
    d.must("spi --said ah:102@2001:db8::1 --src 2001:db8::2 --ah hmac-sha2_256-128 --authkey " +
           hex_key(32) + " --replay_window 64");
    d.must("spi --said ah.103@192.0.2.2 --src 192.0.2.1 --ah hmac-sha1-96 --authkey " +
           hex_key(20));
    d.must("spi --said comp.104@192.0.2.2 --src 192.0.2.1 --comp deflate");
    d.must(
        "spi --said tun.105@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1 --policy "
        "203.0.113.0/24->198.51.100.0/24");
    d.must("spi --said tun:106@2001:db8::2 --ip6 --src 2001:db8::1 --dst 2001:db8::2");
    d.must("spi --said esp.107@192.0.2.2 --src 192.0.2.1 --esp aes256gcm16 --enckey " +
           hex_key(36) + " --life soft-allocations=2,hard-packets=100,soft-usetime=60");
    d.counters("ah.103@192.0.2.2").seq.set(0xfffffff0);
    for (std::size_t r = 0; r < kDropReasonCount; ++r)
        d.counters("esp.100@192.0.2.1").count_drop(static_cast<DropReason>(r), r + 1);
    d.now += 42 * kSecond;

    DataplaneStatus status;
    const auto snap = d.db.snapshot();
    const auto samples = check_exposition(render_metrics(*snap, status, d.now));

    // family -> said -> samples
    std::map<std::string, std::map<std::string, std::vector<const Sample*>>> by;
    for (const Sample& s : samples) {
        if (auto said = s.label("said")) by[s.name][*said].push_back(&s);
    }
    for (const auto& [said, sa] : snap->sas()) {
        const std::string name = said.str();
        INFO(name);
        for (const char* family :
             {"ipsec_sa_bytes_total", "ipsec_sa_packets_total", "ipsec_sa_age_seconds"}) {
            INFO(family);
            REQUIRE(by[family][name].size() == 1);
            const Sample& s = *by[family][name].front();
            CHECK(s.label("direction") == (sa->config().dir == Direction::in ? "in" : "out"));
            CHECK(s.label("protocol") == std::string(proto_name(said.proto)));
            CHECK(s.label("transform") == transform_display_name(sa->config().xform));
        }
        CHECK(by["ipsec_sa_age_seconds"][name].front()->value == "42");
        CHECK(by["ipsec_sa_idle_seconds"][name].empty());
    }

    // Per SA, every reason that dropped one of its packets, in drop_reason.hpp order, and the
    // error counters that count some of them; nothing for SAs that dropped nothing.
    for (const char* family : {"ipsec_sa_ooo_errs_total", "ipsec_sa_auth_errs_total",
                               "ipsec_sa_encr_size_errs_total", "ipsec_sa_encr_pad_errs_total"}) {
        INFO(family);
        CHECK(by[family].size() == 1);
        CHECK(by[family]["esp.100@192.0.2.1"].size() == 1);
    }
    const auto& drops = by["ipsec_sa_drops_total"];
    REQUIRE(drops.size() == 1);
    const auto& esp_drops = drops.at("esp.100@192.0.2.1");
    REQUIRE(esp_drops.size() == kDropReasonCount);
    for (std::size_t r = 0; r < kDropReasonCount; ++r) {
        CHECK(esp_drops[r]->label("reason") == std::string(kDropReasonNames[r]));
        CHECK(esp_drops[r]->value == std::to_string(r + 1));
    }
    // The error counters count their drop reasons too.
    const auto count = [](DropReason r) { return static_cast<std::size_t>(r) + 1; };
    CHECK(by["ipsec_sa_ooo_errs_total"]["esp.100@192.0.2.1"].front()->value ==
          std::to_string(count(DropReason::replay) + count(DropReason::out_of_window)));
    CHECK(by["ipsec_sa_auth_errs_total"]["esp.100@192.0.2.1"].front()->value ==
          std::to_string(count(DropReason::auth_failed)));

    // Replay windows on inbound AH/ESP only; headroom on outbound AH/ESP only.
    const auto value = [&](const char* family, const char* said) -> std::string {
        const auto& v = by[family][said];
        return v.size() == 1 ? v.front()->value : "absent";
    };
    CHECK(value("ipsec_sa_replay_window", "esp.100@192.0.2.1") == "32");
    CHECK(value("ipsec_sa_replay_window", "ah:102@2001:db8::1") == "64");
    CHECK(by["ipsec_sa_replay_window"].size() == 2);
    CHECK(value("ipsec_sa_sequence_headroom", "esp:101@2001:db8::2") ==
          std::to_string(UINT64_MAX - 0x10000000000ull));
    CHECK(value("ipsec_sa_sequence_headroom", "ah.103@192.0.2.2") == "15");
    CHECK(value("ipsec_sa_sequence_headroom", "esp.107@192.0.2.2") == "4294967295");
    CHECK(by["ipsec_sa_sequence_headroom"].size() == 3);

    // Only the limits that are set, by their --life names.
    const auto& limits = by["ipsec_sa_lifetime_limit"];
    REQUIRE(limits.size() == 1);
    std::set<std::string> seen;
    for (const Sample* s : limits.at("esp.107@192.0.2.2"))
        seen.insert(*s->label("limit") + "-" + *s->label("kind") + "=" + s->value);
    CHECK(seen ==
          std::set<std::string>{"soft-allocations=2", "hard-packets=100", "soft-usetime=60"});

    // Daemon totals: every reason once.
    std::vector<std::string> reasons;
    for (const Sample& s : samples) {
        if (s.name == "ipsec_drops_total") reasons.push_back(*s.label("reason"));
    }
    CHECK(reasons == std::vector<std::string>(kDropReasonNames.begin(), kDropReasonNames.end()));
}

TEST_CASE("metrics: idle appears with the first packet", "[core][render][metrics]") {
    ClockedSadb d;
    d.must("spi --said tun.200@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2");
    DataplaneStatus status;
    const auto render = [&] { return render_metrics(*d.db.snapshot(), status, d.now); };
    CHECK(render().find("ipsec_sa_idle_seconds{") == std::string::npos);
    d.counters("tun.200@192.0.2.2").mark_used(d.now);
    d.now += 7 * kSecond;
    CHECK(render().find("ipsec_sa_idle_seconds{said=\"tun.200@192.0.2.2\",direction=\"out\","
                        "protocol=\"tun\",transform=\"IPIP\"} 7\n") != std::string::npos);
}

TEST_CASE("metrics: label values are escaped per the exposition format",
          "[core][render][metrics]") {
    std::string out;
    append_label_value(out, "plain esp.1000@192.0.2.1");
    CHECK(out == "plain esp.1000@192.0.2.1");
    out.clear();
    append_label_value(out, "a\"b\\c\nd");
    CHECK(out == "a\\\"b\\\\c\\nd");
    const auto s = parse_sample("x{l=\"" + out + "\"} 1");
    REQUIRE(s);
    CHECK(s->label("l") == "a\"b\\c\nd");
}

// Not run by default: `unit_tests "[.bench]" -s` or by name. Prints the time for 100,000 SAs.
TEST_CASE("metrics: 100,000 SAs render in well under a second", "[.][bench][metrics]") {
    ClockedSadb d;
    auto base = std::get<SpiAdd>(testing::command(
        "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey " + hex_key(20)));
    {
        auto tx = d.db.begin();
        for (uint32_t i = 0; i < 100'000; ++i) {
            SpiAdd c = base;
            c.config.said.spi = 0x10000 + i;
            REQUIRE(tx.apply(c).ok());
        }
        tx.commit();
    }
    const auto snap = d.db.snapshot();
    for (const auto& [said, sa] : snap->sas()) {
        sa->counters().bytes.set(123456789);
        sa->counters().packets.set(98765);
        sa->counters().mark_used(d.now);
    }
    DataplaneStatus status;
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    const std::string text = render_metrics(*snap, status, d.now + kSecond);
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    WARN("render_metrics: 100000 SAs, " << text.size() << " bytes in " << seconds << " s (" << cpu
                                        << " s CPU)");
    // CPU time: the wall clock also counts whatever else the machine runs.
    CHECK(cpu < 1.0);
}

}  // namespace ipsecfs
