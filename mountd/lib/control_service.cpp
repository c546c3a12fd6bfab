#include "mountd/lib/control_service.hpp"

#include "core/render.hpp"
#include "mountd/lib/batch.hpp"

namespace ipsecfs::mountd {

Response ControlService::handle(const Request& request) const {
    if (request.kind == RequestKind::batch) return run_batch(request.lines);
    if (request.kind == RequestKind::monitor)
        return Response::failure("this daemon does not stream events");
    if (request.lines.size() != 1) return Response::failure("malformed request");
    return run_command(request.lines.front());
}

Response ControlService::run_command(const CommandLine& line) const {
    auto command = parse_command(line.argv);
    if (!command) return Response::failure(command.error());
    if (is_mutation(*command)) {
        if (auto r = sadb_.apply(*command); !r) return Response::failure(r.error());
        return Response::success();
    }
    const auto snap = sadb_.snapshot();
    return std::visit(
        [&](const auto& c) {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, SpiShow>) {
                return Response::success(render_spi(*snap, now_ns_()));
            } else if constexpr (std::is_same_v<T, ErouteShow>) {
                return Response::success(render_eroute(*snap));
            } else if constexpr (std::is_same_v<T, SpigrpShow>) {
                return Response::success(render_spigrp(*snap));
            } else if constexpr (std::is_same_v<T, Look>) {
                return Response::success(render_look(*snap, status_, now_ns_()));
            } else if constexpr (std::is_same_v<T, Version>) {
                return Response::success(render_version());
            } else {
                return Response::failure("internal error: unhandled command");
            }
        },
        *command);
}

Response ControlService::run_batch(const std::vector<CommandLine>& lines) const {
    auto tx = sadb_.begin();
    for (const CommandLine& line : lines) {
        auto command = parse_batch_line(line);
        if (!command) return Response::failure(command.error());
        if (auto r = tx.apply(*command); !r)
            return Response::failure("line " + std::to_string(line.line) + ": " + r.error());
    }
    tx.commit();
    return Response::success();
}

}  // namespace ipsecfs::mountd
