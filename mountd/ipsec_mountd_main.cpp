// ipsec-mountd: the SA database, the packet engine and the read-only filesystem at /run/ipsec.
#include <cstdio>
#include <string>

#include "ipsecfs_version.hpp"
#include "mountd/lib/daemon.hpp"
#include "mountd/lib/daemon_options.hpp"
#include "mountd/lib/sd_notify.hpp"
#include "mountd/lib/startup_report.hpp"

using namespace ipsecfs::mountd;

namespace {

void tell_systemd(const SystemdNotifier& systemd, const std::string& state) {
    if (auto r = systemd.notify(state); !r)
        std::fprintf(stderr, "ipsec-mountd: cannot notify systemd: %s\n", r.error().c_str());
}

}  // namespace

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
    // Under systemd (Type=notify) the process it started is the daemon: no detaching.
    const SystemdNotifier systemd = SystemdNotifier::from_environment();
    StartupReport report = options.foreground || systemd.active() ? StartupReport::foreground()
                                                                  : StartupReport::detach();
    auto daemon = Daemon::start(options);
    if (!daemon) {
        report.failed(daemon.error());
        tell_systemd(systemd, "STATUS=" + daemon.error());
        return 1;
    }
    report.ready();
    tell_systemd(systemd, "READY=1\nSTATUS=serving " + options.mount + ", control socket " +
                              options.control);
    const int status = (*daemon)->run();
    tell_systemd(systemd, "STOPPING=1\nSTATUS=stopping");
    return status;
}
