#include "mountd/lib/startup_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <variant>

#include "mountd/lib/batch.hpp"

namespace ipsecfs::mountd {

Result<StartupFile> read_startup_file(const std::string& spec) {
    const bool optional = !spec.empty() && spec.front() == '-';
    StartupFile file;
    file.path = optional ? spec.substr(1) : spec;
    if (file.path.empty()) return StartupFile{};
    const std::string who = "startup file " + file.path;

    std::ifstream in(file.path);
    if (!in) {
        if (optional && errno == ENOENT) return StartupFile{};
        return fail(who + ": " + std::strerror(errno));
    }
    auto lines = read_batch(in);
    if (!lines) return fail(who + ": " + lines.error());
    for (const CommandLine& line : *lines) {
        if (auto command = parse_batch_line(line); !command)
            return fail(who + ": " + command.error());
    }
    file.lines = std::move(*lines);
    return file;
}

namespace {

// The tunnel SA whose inbound policy `eroute --addin --said SAID` sets (as the SADB finds it).
const Sa* policy_holder(const SadbSnapshot& snap, const Said& said) {
    const Sa* sa = snap.find(said);
    if (sa && sa->said().proto == SaProto::tun) return sa;
    if (const SaGroup* g = snap.group_of(said)) {
        for (const auto& m : g->members) {
            if (m->said().proto == SaProto::tun) return m.get();
        }
    }
    return nullptr;
}

// What `command` would add that the SADB holds already, or "" when it adds nothing there.
std::string already_there(const SadbSnapshot& snap, const Command& command) {
    if (const auto* add = std::get_if<SpiAdd>(&command); add && !add->replace) {
        if (snap.find(add->config.said)) return "SA " + add->config.said.str();
    } else if (const auto* e = std::get_if<ErouteAdd>(&command); e && !e->replace) {
        if (e->inbound) {
            const Sa* tun = policy_holder(snap, e->said);
            if (tun && snap.policy_of(tun->said())) return "inbound policy of " + tun->said().str();
        } else {
            for (const Eroute& r : snap.eroutes()) {
                if (r.src == e->src && r.dst == e->dst)
                    return "eroute " + e->src.str() + " -> " + e->dst.str();
            }
        }
    }
    return "";
}

}  // namespace

Result<std::vector<std::string>> apply_startup_file(const StartupFile& file, const Sadb& sadb,
                                                    const ControlService& service) {
    std::vector<std::string> notes;
    if (file.lines.empty()) return notes;
    const std::string who = "startup file " + file.path;
    const SadbSnapshotPtr restored = sadb.snapshot();
    std::vector<CommandLine> lines;
    // After a line that deletes something the restored state no longer tells what is there.
    bool skipping = true;
    for (const CommandLine& line : file.lines) {
        auto command = parse_batch_line(line);
        if (!command) return fail(who + ": " + command.error());
        if (std::holds_alternative<SpiDel>(*command) ||
            std::holds_alternative<SpiClear>(*command) ||
            std::holds_alternative<ErouteDel>(*command) ||
            std::holds_alternative<ErouteClear>(*command))
            skipping = false;
        if (const std::string what = skipping ? already_there(*restored, *command) : "";
            !what.empty()) {
            notes.push_back(who + ": line " + std::to_string(line.line) + ": " + what +
                            " kept as the state file restored it");
            continue;
        }
        lines.push_back(line);
    }
    if (lines.empty()) return notes;
    const Response response = service.handle(Request{RequestKind::batch, std::move(lines)});
    if (response.status != ResponseStatus::ok) return fail(who + ": " + response.text);
    return notes;
}

}  // namespace ipsecfs::mountd
