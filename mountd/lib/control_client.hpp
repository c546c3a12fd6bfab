#pragma once
// The ipsec command's end of the control socket: one request, one response per connection.

#include <string>

#include "core/result.hpp"
#include "mountd/lib/control_protocol.hpp"

namespace ipsecfs::mountd {

inline constexpr const char* kDefaultControlPath = "/run/ipsec-mountd.sock";

// Connection errors read "cannot reach ipsec-mountd at PATH: <reason>".
Result<Response> call_daemon(const std::string& path, const Request& request);

}  // namespace ipsecfs::mountd
