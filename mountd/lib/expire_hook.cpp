#include "mountd/lib/expire_hook.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

extern char** environ;

namespace ipsecfs::mountd {
namespace {

void log(const std::string& what) {
    std::fprintf(stderr, "ipsec-mountd: --on-expire: %s\n", what.c_str());
}

}  // namespace

ExpireHook::ExpireHook(std::string command, std::chrono::milliseconds timeout)
    : command_(std::move(command)), timeout_(timeout), thread_([this] {
          ::pthread_setname_np(::pthread_self(), "ipsec-expire");
          loop();
      }) {}

ExpireHook::~ExpireHook() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void ExpireHook::post(const LifeEvent& event) {
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= kMaxQueued) {
            ++stats_.dropped;
            log("queue full, event dropped: " + format_life_event(event));
            return;
        }
        queue_.push_back(event);
    }
    changed_.notify_all();
}

ExpireHook::Stats ExpireHook::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

bool ExpireHook::wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [this] { return queue_.empty() && !running_; });
}

void ExpireHook::loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        const LifeEvent event = queue_.front();
        queue_.pop_front();
        running_ = true;
        lock.unlock();
        run_one(event);
        lock.lock();
        running_ = false;
        changed_.notify_all();
    }
}

void ExpireHook::run_one(const LifeEvent& event) {
    const std::string what = format_life_event(event);
    std::vector<std::string> env_strings = life_event_environment(event);
    std::vector<char*> envp;
    for (char** e = environ; e && *e; ++e) {
        if (std::strncmp(*e, "IPSEC_", 6) != 0) envp.push_back(*e);
    }
    for (std::string& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);

    // The daemon blocks SIGTERM/SIGINT in every thread; the hook starts with none blocked.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    std::string shell = "/bin/sh", dash_c = "-c", command = command_;
    char* argv[] = {shell.data(), dash_c.data(), command.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/bin/sh", &files, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    {
        std::lock_guard lock(mutex_);
        ++stats_.runs;
    }
    if (rc != 0) {
        std::lock_guard lock(mutex_);
        ++stats_.failures;
        log(std::string("cannot start /bin/sh: ") + std::strerror(rc));
        return;
    }

    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    int status = 0;
    bool timed_out = false;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) break;
        bool stopping;
        {
            std::lock_guard lock(mutex_);
            stopping = stopping_;
        }
        if (stopping || std::chrono::steady_clock::now() >= deadline) {
            timed_out = !stopping;
            ::kill(-pid, SIGKILL);  // the hook's whole process group
            ::waitpid(pid, &status, 0);
            break;
        }
        ::usleep(20'000);
    }
    std::lock_guard lock(mutex_);
    if (timed_out) {
        ++stats_.timeouts;
        ++stats_.failures;
        log("killed after " + std::to_string(timeout_.count()) + " ms: " + what);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ++stats_.failures;
        log((WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                               : std::string("killed by a signal")) +
            ": " + what);
    }
}

}  // namespace ipsecfs::mountd
