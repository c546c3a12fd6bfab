#pragma once
// What the daemon does with a control request. Every command line is parsed again here with
// core's grammar (the client is never trusted). Show commands render a snapshot; changes run in
// one SADB transaction per request, so a batch is applied entirely or not at all.

#include <cstdint>
#include <functional>

#include "core/dataplane_status.hpp"
#include "core/sadb.hpp"
#include "mountd/lib/control_protocol.hpp"

namespace ipsecfs::mountd {

class ControlService {
  public:
    ControlService(Sadb& sadb, const DataplaneStatus& status, std::function<int64_t()> now_ns)
        : sadb_(sadb), status_(status), now_ns_(std::move(now_ns)) {}

    Response handle(const Request& request) const;

  private:
    Response run_command(const CommandLine& line) const;
    Response run_batch(const std::vector<CommandLine>& lines) const;

    Sadb& sadb_;
    const DataplaneStatus& status_;
    std::function<int64_t()> now_ns_;
};

}  // namespace ipsecfs::mountd
