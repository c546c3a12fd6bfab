#pragma once
// The ipsec command's end of the control socket: one request, one response per connection.

#include <string>

#include "core/result.hpp"
#include "fs/unique_fd.hpp"
#include "mountd/lib/control_protocol.hpp"

namespace ipsecfs::mountd {

inline constexpr const char* kDefaultControlPath = "/run/ipsec-mountd.sock";

// Connection errors read "cannot reach ipsec-mountd at PATH: <reason>".
Result<Response> call_daemon(const std::string& path, const Request& request);

// Asks for the event stream: the returned socket then carries one line per lifetime event.
Result<fs::UniqueFd> open_monitor(const std::string& path);

}  // namespace ipsecfs::mountd
