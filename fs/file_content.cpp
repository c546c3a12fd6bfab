#include "fs/file_content.hpp"

#include "core/render.hpp"
#include "core/render_json.hpp"
#include "core/render_metrics.hpp"

namespace ipsecfs::fs {

std::string render_file(const Node& file, const Sa* sa, const SadbSnapshot& snap,
                        const DataplaneStatus& status, int64_t now_ns) {
    if (file.kind == NodeKind::sa_file)
        return sa ? render_sa_field(*sa, snap, file.field, now_ns) : "";
    if (file.kind != NodeKind::root_file) return "";
    switch (file.root_file) {
        case RootFile::ipsec_spi:
            return render_spi(snap, now_ns);
        case RootFile::ipsec_eroute:
            return render_eroute(snap);
        case RootFile::ipsec_spigrp:
            return render_spigrp(snap);
        case RootFile::ipsec_tncfg:
            return render_tncfg(status);
        case RootFile::ipsec_version:
            return render_version();
        case RootFile::stats:
            return render_stats(status);
        case RootFile::metrics:
            return render_metrics(snap, status, now_ns);
        case RootFile::ipsec_spi_json:
            return render_spi_json(snap, now_ns);
        case RootFile::count_:
            break;
    }
    return "";
}

}  // namespace ipsecfs::fs
