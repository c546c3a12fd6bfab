#include "core/command.hpp"

#include "core/sadb.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <sstream>

namespace ipsecfs {
namespace po = boost::program_options;
namespace {

// ---- value parsers -------------------------------------------------------------------------

// strtoul base 0, as the FreeS/WAN tools read numbers: 0x hex, leading 0 octal, else decimal.
Result<uint64_t> parse_u64(std::string_view text, std::string_view what) {
    int base = 10;
    std::string_view digits = text;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        digits.remove_prefix(2);
        base = 16;
    } else if (digits.size() > 1 && digits[0] == '0') {
        digits.remove_prefix(1);
        base = 8;
    }
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
        return fail(std::string(what) + ": bad number '" + std::string(text) + "'");
    }
    return v;
}

Result<Family> parse_af(std::string_view text, std::string_view what) {
    if (text == "inet") return Family::v4;
    if (text == "inet6") return Family::v6;
    return fail(std::string(what) + " must be inet or inet6, not '" + std::string(text) + "'");
}

Result<LifeLimits> parse_life(std::string_view spec) {
    LifeLimits limits{};
    std::array<std::array<bool, 2>, kLifeKinds> seen{};
    constexpr std::array<std::string_view, kLifeKinds> kinds = {"allocations", "bytes", "addtime",
                                                                "usetime", "packets"};
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        std::size_t end = spec.find_first_of(", \t", pos);
        if (end == std::string_view::npos) end = spec.size();
        const auto item = spec.substr(pos, end - pos);
        pos = end + 1;
        if (item.empty()) {
            if (end == spec.size()) break;
            continue;
        }
        const auto bad = [&](const std::string& why) {
            return fail("--life '" + std::string(item) + "': " + why);
        };
        const auto dash = item.find('-');
        const auto eq = item.find('=');
        if (dash == std::string_view::npos || eq == std::string_view::npos || eq < dash) {
            return bad("expected soft|hard-allocations|bytes|addtime|usetime|packets=N");
        }
        const auto which = item.substr(0, dash);
        const auto kind = item.substr(dash + 1, eq - dash - 1);
        if (which != "soft" && which != "hard") return bad("expected soft- or hard-");
        std::size_t k = 0;
        while (k < kinds.size() && kinds[k] != kind)
            ++k;
        if (k == kinds.size()) return bad("unknown limit '" + std::string(kind) + "'");
        auto value = parse_u64(item.substr(eq + 1), "--life");
        if (!value) return bad(value.error());
        const std::size_t h = which == "hard" ? 1 : 0;
        if (seen[k][h]) return bad("defined twice");
        seen[k][h] = true;
        (h ? limits[k].hard : limits[k].soft) = *value;
        if (end == spec.size()) break;
    }
    return limits;
}

Result<InboundPolicy> parse_policy(std::string_view text) {
    const auto arrow = text.find("->");
    if (arrow == std::string_view::npos) return fail("--policy must be SRC/BITS->DST/BITS");
    auto src = Prefix::parse(text.substr(0, arrow));
    if (!src) return fail("--policy: " + src.error());
    auto dst = Prefix::parse(text.substr(arrow + 2));
    if (!dst) return fail("--policy: " + dst.error());
    if (src->addr.family() != dst->addr.family()) return fail("--policy: mixed address families");
    return InboundPolicy{*src, *dst};
}

// ---- option tables -------------------------------------------------------------------------

void add_sa_options(po::options_description& d) {
    d.add_options()("said", po::value<std::string>(), "SAID, e.g. esp.1000@192.0.2.2")(
        "af", po::value<std::string>(), "inet | inet6 (with --edst --spi --proto)")(
        "edst", po::value<std::string>(), "effective destination address")(
        "spi", po::value<std::string>(), "SPI, 0x100..0xffffffff")(
        "proto", po::value<std::string>(), "ah | esp | comp | tun");
}

void add_common_options(po::options_description& d) {
    d.add_options()("help", "show this help")("label", po::value<std::string>(),
                                              "label for messages")("debug",
                                                                    "accepted for compatibility");
}

po::options_description spi_options() {
    po::options_description d("ipsec spi options");
    add_sa_options(d);
    add_common_options(d);
    d.add_options()("ah", po::value<std::string>(),
                    "hmac-md5-96 | hmac-sha1-96 | hmac-sha2_256-128")(
        "esp", po::value<std::string>(), "ESP algorithm (see ipsec(8))")(
        "comp", po::value<std::string>(), "deflate")("ip4", "IPv4 tunnel (IPIP) SA")(
        "ip6", "IPv6 tunnel SA")("del", "delete the SA")("clear", "delete every SA")(
        "src", po::value<std::string>(), "source address")("dst", po::value<std::string>(),
                                                           "tunnel outer destination (tun SAs)")(
        "enckey", po::value<std::string>(), "encryption key: 0x… hex, 0s… base64, 0t… text")(
        "authkey", po::value<std::string>(), "authentication key")("iv", po::value<std::string>(),
                                                                   "fixed IV (shown only)")(
        "replay_window", po::value<std::string>(), "inbound replay window, 1..4096")(
        "life", po::value<std::string>(),
        "soft|hard-allocations|bytes|addtime|usetime|packets=N,...")(
        "esn", "extended (64-bit) sequence numbers, RFC 4304")(
        "seq", po::value<std::string>(),
        "initial sequence number (in: highest received; out: last sent)")(
        "natt", po::value<std::string>(), "none | nonesp (RFC 3948 UDP encapsulation)")(
        "sport", po::value<std::string>(), "UDP source port for --natt")(
        "dport", po::value<std::string>(), "UDP destination port for --natt")(
        "policy", po::value<std::string>(), "inbound policy of a tun SA: SRC/BITS->DST/BITS")(
        "replace", "replace an existing SA");
    return d;
}

po::options_description eroute_options() {
    po::options_description d("ipsec eroute options");
    add_sa_options(d);
    add_common_options(d);
    d.add_options()("add", "add an eroute")("addin", "set the inbound policy of the tunnel SA")(
        "replace", "replace an eroute")("replacein", "replace the inbound policy")(
        "del", "delete an eroute")("clear", "delete every eroute")("eraf", po::value<std::string>(),
                                                                   "inet | inet6")(
        "src", po::value<std::string>(), "source ADDR/BITS")("dst", po::value<std::string>(),
                                                             "destination ADDR/BITS");
    return d;
}

Result<po::variables_map> run_parser(std::span<const std::string> args,
                                     const po::options_description& d, std::string_view cmd) {
    po::variables_map vm;
    try {
        std::vector<std::string> rest(args.begin() + 1, args.end());
        const po::parsed_options parsed =
            po::command_line_parser(rest)
                .options(d)
                .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
                .run();
        // Without a positional description Boost keeps stray words aside and store() drops them
        // silently; a stray word is a typo (a key split by a space, a missing option name).
        for (const auto& o : parsed.options) {
            if (o.position_key >= 0 || o.string_key.empty()) {
                return fail("unexpected argument '" +
                            (o.original_tokens.empty() ? std::string() : o.original_tokens[0]) +
                            "' (see ipsec " + std::string(cmd) + " --help)");
            }
        }
        po::store(parsed, vm);
        po::notify(vm);
    } catch (const po::error& e) {
        // Boost fills in its messages by replacing %name% placeholders until none is left, so a
        // word that spells one (`--%canonical_option%`) makes what() loop forever. With a '%'
        // in the words, name the option without Boost's message.
        const std::string help = " (see ipsec " + std::string(cmd) + " --help)";
        for (const auto& word : args) {
            if (word.find('%') == std::string::npos) continue;
            const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
            return fail("unrecognised or malformed option '" +
                        (named ? named->get_option_name() : std::string()) + "'" + help);
        }
        return fail(std::string(e.what()) + help);
    }
    return vm;
}

std::string opt(const po::variables_map& vm, const char* name) {
    return vm[name].as<std::string>();
}

// <SA> is --said, or all of --af --edst --spi --proto; never both.
Result<Said> said_from(const po::variables_map& vm, std::string_view cmd) {
    const bool long_form =
        vm.count("af") || vm.count("edst") || vm.count("spi") || vm.count("proto");
    if (vm.count("said")) {
        if (long_form) return fail("--said cannot be combined with --af/--edst/--spi/--proto");
        return Said::parse(opt(vm, "said"));
    }
    if (!long_form)
        return fail("ipsec " + std::string(cmd) + " needs --said or --af --edst --spi --proto");
    for (const char* need : {"af", "edst", "spi", "proto"}) {
        if (!vm.count(need))
            return fail("missing --" + std::string(need) +
                        " (with --af/--edst/--spi/--proto all four are needed)");
    }
    auto af = parse_af(opt(vm, "af"), "--af");
    if (!af) return std::move(af).take_error();
    auto dst = IpAddress::parse(opt(vm, "edst"));
    if (!dst) return fail("--edst: " + dst.error());
    if (dst->family() != *af)
        return fail("--edst " + dst->str() + " is not an " + opt(vm, "af") + " address");
    auto spi = parse_spi(opt(vm, "spi"));
    if (!spi) return std::move(spi).take_error();
    auto proto = parse_proto_name(opt(vm, "proto"));
    if (!proto) return std::move(proto).take_error();
    return Said{*proto, *spi, *dst};
}

Result<Command> parse_spi_command(std::span<const std::string> args) {
    // Built once: constructing the table costs more than parsing a line (batches of 100k SAs).
    // Parsing only reads it, so threads may share it.
    static const po::options_description d = spi_options();
    auto parsed = run_parser(args, d, "spi");
    if (!parsed) return std::move(parsed).take_error();
    const po::variables_map& vm = *parsed;

    std::vector<std::string> ops;
    for (const char* op : {"ah", "esp", "comp", "ip4", "ip6", "del", "clear"}) {
        if (vm.count(op)) ops.push_back(op);
    }
    if (ops.size() > 1) {
        return fail("only one of --ah, --esp, --comp, --ip4, --ip6, --del or --clear is permitted");
    }
    if (ops.empty()) {
        if (vm.size() - vm.count("label") - vm.count("debug") == 0) return SpiShow{};
        return fail(
            "no operation: give one of --ah, --esp, --comp, --ip4, --ip6, --del or --clear");
    }
    const std::string& op = ops.front();
    if (op == "clear") {
        if (vm.count("said") || vm.count("af") || vm.count("edst") || vm.count("spi") ||
            vm.count("proto")) {
            return fail("--clear takes no SA");
        }
        return SpiClear{};
    }
    auto said = said_from(vm, "spi");
    if (!said) return std::move(said).take_error();
    if (op == "del") return SpiDel{*said};

    SpiAdd add;
    SaConfig& c = add.config;
    c.said = *said;
    Result<Transform> t = fail("");
    if (op == "esp") t = parse_esp_name(opt(vm, "esp"));
    if (op == "ah") t = parse_ah_name(opt(vm, "ah"));
    if (op == "comp") t = parse_comp_name(opt(vm, "comp"));
    if (op == "ip4" || op == "ip6")
        t = Transform{SaProto::tun, EncAlg::none, AuthAlg::none, CompAlg::none, 0};
    if (!t) return std::move(t).take_error();
    c.xform = *t;
    if (c.xform.proto != said->proto) {
        return fail("--" + op + " makes a " + std::string(proto_name(c.xform.proto)) +
                    " SA but the SAID " + said->str() + " is " +
                    std::string(proto_name(said->proto)));
    }
    if (vm.count("src")) {
        auto a = IpAddress::parse(opt(vm, "src"));
        if (!a) return fail("--src: " + a.error());
        c.src = *a;
    } else {
        c.src = IpAddress::unspecified(said->dst.family());
    }
    if (vm.count("dst")) {
        if (c.xform.proto != SaProto::tun) return fail("--dst is for tun SAs (--ip4/--ip6)");
        auto a = IpAddress::parse(opt(vm, "dst"));
        if (!a) return fail("--dst: " + a.error());
        c.tunnel_dst = *a;
    }
    if (c.xform.proto == SaProto::tun) {
        const Family outer = op == "ip4" ? Family::v4 : Family::v6;
        const char* name = op == "ip4" ? "--ip4" : "--ip6";
        const IpAddress dst = c.outer_dst();
        if (dst.family() != outer)
            return fail(std::string(name) + " needs an " + (outer == Family::v4 ? "IPv4" : "IPv6") +
                        " tunnel destination, got " + dst.str());
        if (vm.count("src") && c.src.family() != outer)
            return fail(std::string(name) + " needs an " + (outer == Family::v4 ? "IPv4" : "IPv6") +
                        " --src, got " + c.src.str());
        if (!vm.count("src")) c.src = IpAddress::unspecified(outer);
    } else if (c.src.family() != said->dst.family()) {
        return fail("--src " + c.src.str() + " and the SA destination " + said->dst.str() +
                    " differ in address family");
    }

    const std::string alg = transform_option_name(c.xform);
    const auto key = [&](const char* name, std::size_t want, KeyBytes& out) -> Result<void> {
        const std::string option = std::string("--") + name;
        if (!vm.count(name)) {
            if (want == 0) return {};
            return fail("missing " + option + " (" + alg + " needs " + std::to_string(want) +
                        " bytes)");
        }
        if (want == 0)
            return fail(option + " is not used by " +
                        (c.xform.proto == SaProto::esp || c.xform.proto == SaProto::ah
                             ? alg
                             : std::string(proto_name(c.xform.proto)) + " SAs"));
        auto k = parse_key(opt(vm, name), option);
        if (!k) return std::move(k).take_error();
        if (k->size() != want) {
            return fail(option + " for " + alg + " must be " + std::to_string(want) + " bytes (" +
                        std::to_string(want * 8) + " bits), got " + std::to_string(k->size()) +
                        " bytes");
        }
        out = std::move(*k);
        return {};
    };
    if (auto r = key("enckey", enc_key_bytes(c.xform), c.enc_key); !r)
        return std::move(r).take_error();
    if (auto r = key("authkey", auth_key_bytes(c.xform), c.auth_key); !r)
        return std::move(r).take_error();
    if (vm.count("iv")) {
        auto iv = parse_key(opt(vm, "iv"), "--iv");
        if (!iv) return std::move(iv).take_error();
        c.iv.assign(iv->begin(), iv->end());
    }
    const bool replay_proto = c.xform.proto == SaProto::esp || c.xform.proto == SaProto::ah;
    if (vm.count("replay_window")) {
        if (!replay_proto) return fail("--replay_window is for ah and esp SAs");
        auto w = parse_u64(opt(vm, "replay_window"), "--replay_window");
        if (!w) return std::move(w).take_error();
        if (*w < 1 || *w > kMaxReplayWindow)
            return fail("--replay_window must be 1.." + std::to_string(kMaxReplayWindow));
        c.replay_window = static_cast<uint32_t>(*w);
    }
    if (vm.count("esn")) {
        if (!replay_proto) return fail("--esn is for ah and esp SAs");
        c.esn = true;
    }
    if (vm.count("seq")) {
        if (!replay_proto) return fail("--seq is for ah and esp SAs");
        auto s = parse_u64(opt(vm, "seq"), "--seq");
        if (!s) return std::move(s).take_error();
        if (!c.esn && *s > 0xffffffffull) return fail("--seq above 4294967295 needs --esn");
        c.initial_seq = *s;
    }
    if (vm.count("life")) {
        auto l = parse_life(opt(vm, "life"));
        if (!l) return std::move(l).take_error();
        c.life = *l;
    }
    if (vm.count("natt")) {
        const std::string n = opt(vm, "natt");
        if (n == "none") {
            c.natt = NatEncap::none;
        } else if (n == "nonesp") {
            c.natt = NatEncap::nonesp;
        } else {
            return fail("--natt must be none or nonesp, not '" + n + "'");
        }
        if (c.natt != NatEncap::none && c.xform.proto != SaProto::esp)
            return fail("--natt is for esp SAs");
    }
    for (const char* port : {"sport", "dport"}) {
        if (!vm.count(port)) continue;
        if (c.natt == NatEncap::none)
            return fail(std::string("--") + port + " needs --natt nonesp");
        auto p = parse_u64(opt(vm, port), std::string("--") + port);
        if (!p) return std::move(p).take_error();
        if (*p == 0 || *p > 65535) return fail(std::string("--") + port + " must be 1..65535");
        (std::string_view(port) == "sport" ? c.natt_sport : c.natt_dport) =
            static_cast<uint16_t>(*p);
    }
    if (c.natt == NatEncap::nonesp) {
        if (!c.natt_sport) c.natt_sport = 4500;
        if (!c.natt_dport) c.natt_dport = 4500;
    }
    if (vm.count("policy")) {
        if (c.xform.proto != SaProto::tun) return fail("--policy is for tun SAs");
        auto p = parse_policy(opt(vm, "policy"));
        if (!p) return std::move(p).take_error();
        add.policy = *p;
    }
    add.replace = vm.count("replace") != 0;
    return add;
}

Result<Command> parse_eroute(std::span<const std::string> args) {
    static const po::options_description d = eroute_options();
    auto parsed = run_parser(args, d, "eroute");
    if (!parsed) return std::move(parsed).take_error();
    const po::variables_map& vm = *parsed;
    std::vector<std::string> ops;
    for (const char* op : {"add", "addin", "replace", "replacein", "del", "clear"}) {
        if (vm.count(op)) ops.push_back(op);
    }
    if (ops.size() > 1) {
        return fail(
            "only one of --add, --addin, --replace, --replacein, --del or --clear is permitted");
    }
    if (ops.empty()) {
        if (vm.size() - vm.count("label") - vm.count("debug") == 0) return ErouteShow{};
        return fail(
            "no operation: give one of --add, --addin, --replace, --replacein, --del or --clear");
    }
    const std::string& op = ops.front();
    if (op == "clear") return ErouteClear{};
    for (const char* need : {"src", "dst"}) {
        if (!vm.count(need)) return fail("ipsec eroute --" + op + " needs --" + need);
    }
    auto src = Prefix::parse(opt(vm, "src"));
    if (!src) return fail("--src: " + src.error());
    auto dst = Prefix::parse(opt(vm, "dst"));
    if (!dst) return fail("--dst: " + dst.error());
    if (src->addr.family() != dst->addr.family())
        return fail("--src and --dst differ in address family");
    if (vm.count("eraf")) {
        auto af = parse_af(opt(vm, "eraf"), "--eraf");
        if (!af) return std::move(af).take_error();
        if (*af != src->addr.family())
            return fail("--eraf " + opt(vm, "eraf") + " does not match --src " + src->str());
    }
    if (op == "del") {
        if (vm.count("said") || vm.count("af") || vm.count("edst") || vm.count("spi") ||
            vm.count("proto")) {
            return fail("--del takes no SA");
        }
        return ErouteDel{*src, *dst};
    }
    auto said = said_from(vm, "eroute");
    if (!said) return std::move(said).take_error();
    ErouteAdd e{*src, *dst, *said, op == "replace" || op == "replacein",
                op == "addin" || op == "replacein"};
    return e;
}

Result<Command> parse_spigrp(std::span<const std::string> args) {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    std::size_t i = 0;
    while (i < rest.size()) {
        if (rest[i] == "--debug") {
            ++i;
        } else if (rest[i] == "--label") {
            if (i + 1 >= rest.size()) return fail("--label needs a value");
            i += 2;
        } else {
            break;
        }
    }
    rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(i));
    if (rest.empty()) return SpigrpShow{};
    Spigrp g;
    if (rest.front() == "--said") {
        for (std::size_t k = 1; k < rest.size(); ++k) {
            auto s = Said::parse(rest[k]);
            if (!s) return std::move(s).take_error();
            g.saids.push_back(*s);
        }
        if (g.saids.empty()) return fail("--said needs at least one SAID");
    } else {
        if (rest.front().rfind("--", 0) == 0)
            return fail("unrecognised option '" + rest.front() + "' (see ipsec spigrp --help)");
        if (rest.size() % 4 != 0) return fail("expected groups of four words: af dst spi proto");
        for (std::size_t k = 0; k < rest.size(); k += 4) {
            auto af = parse_af(rest[k], "address family");
            if (!af) return std::move(af).take_error();
            auto dst = IpAddress::parse(rest[k + 1]);
            if (!dst) return std::move(dst).take_error();
            if (dst->family() != *af)
                return fail(dst->str() + " is not an " + rest[k] + " address");
            auto spi = parse_spi(rest[k + 2]);
            if (!spi) return std::move(spi).take_error();
            auto proto = parse_proto_name(rest[k + 3]);
            if (!proto) return std::move(proto).take_error();
            g.saids.push_back(Said{*proto, *spi, *dst});
        }
    }
    if (g.saids.size() > SaGroup::kMaxSize) {
        return fail("spigrp takes at most " + std::to_string(SaGroup::kMaxSize) + " SAs, got " +
                    std::to_string(g.saids.size()));
    }
    return g;
}

Result<Command> parse_no_args(std::span<const std::string> args, Command c) {
    if (args.size() > 1) return fail("ipsec " + args[0] + " takes no arguments");
    return c;
}

}  // namespace

Result<Command> parse_command(std::span<const std::string> args) {
    if (args.empty()) return fail("no command (expected spi, eroute, spigrp, look or version)");
    const std::string& name = args[0];
    if (name == "spi") return parse_spi_command(args);
    if (name == "eroute") return parse_eroute(args);
    if (name == "spigrp") return parse_spigrp(args);
    if (name == "look") return parse_no_args(args, Look{});
    if (name == "version") return parse_no_args(args, Version{});
    if (name == "monitor") return parse_no_args(args, Monitor{});
    return fail("unknown command '" + name + "' (expected spi, eroute, spigrp, look or version)");
}

Result<std::vector<std::string>> split_command_line(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (char ch : line) {
        if (quote) {
            if (ch == quote) {
                quote = 0;
            } else {
                word += ch;
            }
            continue;
        }
        // As in sh, '#' starts a comment only at the start of a word (a 0t key may hold one).
        if (ch == '#' && !in_word) break;
        if (ch == '\'' || ch == '"') {
            quote = ch;
            in_word = true;
        } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else {
            word += ch;
            in_word = true;
        }
    }
    if (quote) return fail("unterminated quote");
    if (in_word) words.push_back(std::move(word));
    if (!words.empty() && words.front() == "ipsec") words.erase(words.begin());
    return words;
}

bool is_mutation(const Command& c) {
    return std::holds_alternative<SpiAdd>(c) || std::holds_alternative<SpiDel>(c) ||
           std::holds_alternative<SpiClear>(c) || std::holds_alternative<ErouteAdd>(c) ||
           std::holds_alternative<ErouteDel>(c) || std::holds_alternative<ErouteClear>(c) ||
           std::holds_alternative<Spigrp>(c);
}

std::string command_usage(std::string_view name) {
    std::ostringstream out;
    if (name == "spi") {
        out << "usage: ipsec spi                                   (print ipsec_spi)\n"
               "       ipsec spi --watch [--interval S] [--mount DIR]     (live)\n"
               "       ipsec spi <SA> --esp|--ah|--comp ALG [--enckey K] [--authkey K] [options]\n"
               "       ipsec spi <SA> --ip4|--ip6 --src ADDR --dst ADDR\n"
               "       ipsec spi <SA> --del\n"
               "       ipsec spi --clear\n"
               "<SA> is --said PROTO.SPI@DST or --af inet|inet6 --edst DST --spi SPI --proto "
               "PROTO\n\n"
            << spi_options();
    } else if (name == "eroute") {
        out << "usage: ipsec eroute                                (print ipsec_eroute)\n"
               "       ipsec eroute --add|--replace --src ADDR/BITS --dst ADDR/BITS <SA>\n"
               "       ipsec eroute --addin|--replacein --src ADDR/BITS --dst ADDR/BITS <SA>\n"
               "       ipsec eroute --del --src ADDR/BITS --dst ADDR/BITS\n"
               "       ipsec eroute --clear\n\n"
            << eroute_options();
    } else if (name == "spigrp") {
        out << "usage: ipsec spigrp                                (print ipsec_spigrp)\n"
               "       ipsec spigrp --said SA1 [SA2 [SA3 [SA4]]]     (inner to outer; one SA "
               "ungroups)\n"
               "       ipsec spigrp AF1 DST1 SPI1 PROTO1 [AF2 DST2 SPI2 PROTO2 …]\n";
    } else if (name == "look") {
        out << "usage: ipsec look       (eroutes, groups, tncfg, then the sorted SAs)\n";
    } else if (name == "version") {
        out << "usage: ipsec version\n";
    } else if (name == "monitor") {
        out << "usage: ipsec monitor    (one line per soft or hard lifetime event, until "
               "interrupted)\n";
    } else {
        out << "usage: ipsec [--control SOCK] spi|eroute|spigrp|look|monitor|version [options]\n"
               "       ipsec [--control SOCK] --batch FILE|-\n"
               "       ipsec --help | --version | COMMAND --help\n"
               "       ipsec top [options]      (per-SA rates, live; see ipsec top --help)\n";
    }
    return out.str();
}

}  // namespace ipsecfs
