// ipsec-mountd: the SA database, the packet engine and the read-only filesystem at /run/ipsec.
#include <cstdio>

#include "ipsecfs_version.hpp"
#include "mountd/lib/daemon.hpp"
#include "mountd/lib/daemon_options.hpp"
#include "mountd/lib/startup_report.hpp"

using namespace ipsecfs::mountd;

int main(int argc, char** argv) {
    auto parsed = parse_daemon_options(argc, argv);
    if (!parsed) {
        std::fprintf(stderr, "ipsec-mountd: %s\n", parsed.error().c_str());
        return 1;
    }
    switch (parsed->action) {
        case DaemonCommandLine::Action::help:
            std::fputs(parsed->help.c_str(), stdout);
            return 0;
        case DaemonCommandLine::Action::version:
            std::puts("ipsec-mountd (ipsecfs) " IPSECFS_VERSION);
            return 0;
        case DaemonCommandLine::Action::run:
            break;
    }
    const DaemonOptions& options = parsed->options;
    StartupReport report =
        options.foreground ? StartupReport::foreground() : StartupReport::detach();
    auto daemon = Daemon::start(options);
    if (!daemon) {
        report.failed(daemon.error());
        return 1;
    }
    report.ready();
    return (*daemon)->run();
}
