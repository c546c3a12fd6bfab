// Dropping capabilities on every thread with raw system calls (no libcap).
//
// capset(2), PR_CAPBSET_DROP and PR_SET_NO_NEW_PRIVS change only the calling thread, and the
// packet workers, the control thread and the signal thread are running by the time the daemon
// is set up. So the caller drops its own, then signals each other thread of the process
// (tgkill with a real-time signal) and that thread's handler drops the same; the caller waits
// for every handler to report, rescans /proc/self/task for threads it missed, and finally reads
// each thread's CapEff/CapPrm/CapInh/CapBnd/CapAmb and NoNewPrivs back. glibc's setuid() and
// libcap's psx do the same broadcast. The threads' loops take the EINTR it may cause.

#include "mountd/lib/capabilities.hpp"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace ipsecfs::mountd {
namespace {

constexpr int kMaxCapability = 63;
constexpr int kMaxRounds = 8;  // rescans of /proc/self/task for threads not yet done
constexpr long kWaitStepNs = 1'000'000;
constexpr int kWaitSteps = 5'000;  // 5 s for the signalled threads to report

constexpr CapabilityMask bit(int cap) {
    return CapabilityMask{1} << cap;
}

struct DropPlan {
    CapabilityMask keep = 0;
    CapabilityMask bounding_drop = 0;  // empty without CAP_SETPCAP
};

// The plan the signal handler applies, and what the handlers report: who did it, and whether
// any failed.
constexpr std::size_t kMaxThreads = 256;
std::atomic<const DropPlan*> g_plan{nullptr};
std::array<std::atomic<pid_t>, kMaxThreads> g_reported{};
std::atomic<std::size_t> g_done{0};
std::atomic<int> g_failed{0};

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

bool read_caps(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capget, &header, data) == 0;
}

CapabilityMask effective_caps() {
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (!read_caps(data)) return 0;
    return CapabilityMask{data[0].effective} | CapabilityMask{data[1].effective} << 32;
}

// Async-signal-safe: system calls only.
bool apply_to_calling_thread(const DropPlan& plan) {
    for (int cap = 0; cap <= kMaxCapability; ++cap) {
        if ((plan.bounding_drop & bit(cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            return false;
        }
    }
    // Kernels before 4.3 have no ambient set (EINVAL): nothing to clear there.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        return false;
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0) return false;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
        const auto keep = static_cast<uint32_t>(plan.keep >> (32 * i));
        data[i].effective &= keep;
        data[i].permitted &= keep;
        data[i].inheritable = 0;
    }
    if (::syscall(SYS_capset, &header, data) != 0) return false;
    return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
}

extern "C" void on_drop_signal(int) {
    const int saved = errno;
    const DropPlan* plan = g_plan.load();
    if (!plan || !apply_to_calling_thread(*plan)) g_failed.fetch_add(1);
    const std::size_t slot = g_done.fetch_add(1);
    if (slot < kMaxThreads) g_reported[slot].store(::gettid());
    errno = saved;
}

std::vector<pid_t> thread_ids() {
    std::vector<pid_t> ids;
    DIR* dir = ::opendir("/proc/self/task");
    if (!dir) return ids;
    while (const dirent* e = ::readdir(dir)) {
        char* end = nullptr;
        const long id = std::strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0' && id > 0) ids.push_back(static_cast<pid_t>(id));
    }
    ::closedir(dir);
    return ids;
}

bool reported(pid_t id) {
    const std::size_t n = std::min(g_done.load(), kMaxThreads);
    for (std::size_t i = 0; i < n; ++i) {
        if (g_reported[i].load() == id) return true;
    }
    return false;
}

// Until each thread signalled has reported, or ended (its signal died with it).
bool wait_for_reports(const std::vector<pid_t>& signalled) {
    const timespec step{0, kWaitStepNs};
    for (int i = 0; i < kWaitSteps; ++i) {
        const bool all = std::all_of(signalled.begin(), signalled.end(), [](pid_t id) {
            return reported(id) || ::syscall(SYS_tgkill, ::getpid(), id, 0) != 0;
        });
        if (all) return true;
        ::nanosleep(&step, nullptr);
    }
    return false;
}

Result<void> apply_to_other_threads(const DropPlan& plan) {
    const int signal = SIGRTMIN + 3;
    struct sigaction action {};
    action.sa_handler = on_drop_signal;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    struct sigaction previous {};
    static DropPlan stored;  // outlives a handler that runs late
    stored = plan;
    g_plan.store(&stored);
    g_done.store(0);
    g_failed.store(0);
    if (::sigaction(signal, &action, &previous) != 0) return fail(errno_text("sigaction"));

    std::set<pid_t> done = {::gettid()};
    bool settled = false;
    for (int round = 0; round < kMaxRounds && !settled; ++round) {
        settled = true;
        std::vector<pid_t> signalled;
        for (const pid_t id : thread_ids()) {
            if (!done.insert(id).second) continue;
            settled = false;
            if (::syscall(SYS_tgkill, ::getpid(), id, signal) == 0) {
                signalled.push_back(id);
            } else if (errno != ESRCH) {  // ESRCH: it ended meanwhile
                return fail(errno_text("signal thread " + std::to_string(id)));
            }
        }
        // The handler stays installed if a thread never reports: a late signal must not kill.
        if (!wait_for_reports(signalled)) {
            return fail("a thread did not drop its capabilities within 5 s");
        }
    }
    ::sigaction(signal, &previous, nullptr);
    if (!settled) return fail("threads kept starting while capabilities were dropped");
    if (g_failed.load() != 0) return fail("a thread could not drop its capabilities");
    return {};
}

// "CapEff:\t0000000000201000" and friends of one thread's /proc status.
Result<void> check_thread(pid_t id, const DropPlan& plan) {
    const std::string path = "/proc/self/task/" + std::to_string(id) + "/status";
    std::ifstream in(path);
    if (!in) return {};  // the thread ended
    std::string line;
    bool no_new_privs = false;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string name = line.substr(0, colon);
        const std::string value = line.substr(colon + 1);
        if (name == "NoNewPrivs") no_new_privs = std::strtoul(value.c_str(), nullptr, 10) == 1;
        if (name != "CapInh" && name != "CapPrm" && name != "CapEff" && name != "CapBnd" &&
            name != "CapAmb") {
            continue;
        }
        const CapabilityMask held = std::strtoull(value.c_str(), nullptr, 16);
        CapabilityMask allowed = plan.keep;
        if (name == "CapInh" || name == "CapAmb") allowed = 0;
        if (name == "CapBnd" && plan.bounding_drop == 0) allowed = ~CapabilityMask{0};
        if (held & ~allowed) {
            char text[64];
            std::snprintf(text, sizeof text, "%s %016llx", name.c_str(),
                          static_cast<unsigned long long>(held));
            return fail("thread " + std::to_string(id) + " still holds " + text);
        }
    }
    if (!no_new_privs) return fail("thread " + std::to_string(id) + " lacks no_new_privs");
    return {};
}

}  // namespace

CapabilityMask runtime_capabilities(bool packet_engine) {
    CapabilityMask keep = bit(CAP_SYS_ADMIN);
    if (packet_engine) keep |= bit(CAP_NET_ADMIN);
    return keep;
}

Result<void> drop_privileges(CapabilityMask keep) {
    DropPlan plan;
    plan.keep = keep;
    // Without CAP_SETPCAP (a service manager gave only some capabilities) the bounding set stays
    // as it is; no_new_privs already keeps execve() from gaining anything.
    if (effective_caps() & bit(CAP_SETPCAP)) {
        for (int cap = 0; cap <= kMaxCapability; ++cap) {
            if (!(keep & bit(cap)) && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
                plan.bounding_drop |= bit(cap);
            }
        }
    }
    if (!apply_to_calling_thread(plan)) return fail(errno_text("dropping capabilities"));
    if (auto r = apply_to_other_threads(plan); !r) return std::move(r).take_error();
    for (const pid_t id : thread_ids()) {
        if (auto r = check_thread(id, plan); !r) return std::move(r).take_error();
    }
    // No core dumps: SA keys are in them otherwise. /proc/<pid> stays readable by root.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail(errno_text("PR_SET_DUMPABLE"));
    return {};
}

}  // namespace ipsecfs::mountd
