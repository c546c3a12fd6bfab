// The command grammar as the daemon meets it: each line of the input is split like a batch
// file line (split_command_line), parsed (parse_command), and, when it changes something,
// applied to a SADB with the packet engine's key checks (as ipsec-mountd does); then every
// table and every SA file is rendered. Seeds: valid command lines of every command and option.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/command.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "netpath/engine.hpp"

using namespace ipsecfs;

namespace {

constexpr int kMaxLines = 32;
constexpr int64_t kNow = 2'000'000'000'000'000'000;

Sadb::Environment environment() {
    Sadb::Environment env;
    env.is_local = [](const IpAddress& a) { return a.str().ends_with("2"); };
    env.now_ns = [] { return kNow; };
    env.make_runtime = netpath::Engine::make_runtime;
    return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Sadb sadb(environment());
    DataplaneStatus status;
    std::size_t start = 0;
    for (int n = 0; n < kMaxLines && start <= text.size(); ++n) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const auto words = split_command_line(text.substr(start, end - start));
        start = end + 1;
        if (!words || words->empty()) continue;
        const auto command = parse_command(*words);
        if (!command) {
            // Errors are one line (the CLI prints them as such).
            const std::string& e = command.error();
            if (e.empty() || e.find('\n') != std::string::npos) __builtin_trap();
            continue;
        }
        (void)command_usage((*words)[0]);
        if (is_mutation(*command)) (void)sadb.apply(*command);
    }
    const auto snap = sadb.snapshot();
    (void)render_look(*snap, status, kNow);
    (void)render_spigrp(*snap);
    for (const auto& [said, sa] : snap->sas()) {
        for (std::size_t f = 0; f < kSaFieldCount; ++f)
            (void)render_sa_field(*sa, *snap, static_cast<SaField>(f), kNow);
    }
    return 0;
}
