#pragma once
// The metrics file: the SADB and the daemon-wide totals in the Prometheus text exposition format
// (version 0.0.4), for node_exporter's textfile collector or any scraper. Names and labels are
// stable; ipsec_spi(5) lists them. Pure function of a snapshot and "now"; no I/O.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/dataplane_status.hpp"
#include "core/sadb.hpp"

namespace ipsecfs {

// Every family with its HELP and TYPE lines, even without samples. Per-SA samples carry the
// labels said, direction, protocol and transform; an SA is left out of a family whose value does
// not apply to it (idle before the first packet, limits not set, drop reasons never counted).
std::string render_metrics(const SadbSnapshot& snap, const DataplaneStatus& status, int64_t now_ns);

// A label value as the exposition format quotes it: backslash, double quote and newline escaped.
void append_label_value(std::string& out, std::string_view value);

}  // namespace ipsecfs
