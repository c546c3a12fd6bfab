#include "mountd/lib/batch.hpp"

#include <string>

namespace ipsecfs::mountd {
namespace {

Error at_line(uint32_t line, const std::string& why) {
    return fail("line " + std::to_string(line) + ": " + why);
}

}  // namespace

Result<std::vector<CommandLine>> read_batch(std::istream& in) {
    std::vector<CommandLine> lines;
    std::string text;
    uint32_t number = 0;
    while (std::getline(in, text)) {
        ++number;
        auto words = split_command_line(text);
        if (!words) return at_line(number, words.error());
        if (words->empty()) continue;
        if (lines.size() == kMaxCommandLines)
            return at_line(number, "too many lines (at most " + std::to_string(kMaxCommandLines) +
                                       " per batch)");
        lines.push_back(CommandLine{number, std::move(*words)});
    }
    if (in.bad()) return fail("read error");
    return lines;
}

Result<Command> parse_batch_line(const CommandLine& line) {
    auto command = parse_command(line.argv);
    if (!command) return at_line(line.line, command.error());
    if (!is_mutation(*command))
        return at_line(line.line, "'" + line.argv.front() +
                                      "' here only shows state; a batch holds changes only");
    return command;
}

}  // namespace ipsecfs::mountd
