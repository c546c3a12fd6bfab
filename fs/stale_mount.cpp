// recover_stale_mount: a FUSE mount whose daemon died answers every access with ENOTCONN until
// it is unmounted; detach it so a new daemon can mount there.

#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "fs/ipsec_fs.hpp"

extern char** environ;

namespace ipsecfs::fs {
namespace {

// Dead mounts stacked by repeated crashes are detached one by one, up to this many.
constexpr int kMaxStackedMounts = 16;

bool is_octal(char c) {
    return c >= '0' && c <= '7';
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) &&
            is_octal(field[i + 2]) && is_octal(field[i + 3])) {
            out += static_cast<char>(std::strtol(field.substr(i + 1, 3).c_str(), nullptr, 8));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

bool listed_in_mountinfo(const std::string& path) {
    char canonical[PATH_MAX];
    if (!::realpath(path.c_str(), canonical)) return false;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno, root, mount_point;
        if (fields >> id >> parent >> devno >> root >> mount_point &&
            unescape_mountinfo(mount_point) == canonical) {
            return true;
        }
    }
    return false;
}

bool is_mount_point(const std::string& path, const struct stat& st) {
    struct stat parent {};
    if (::stat((path + "/..").c_str(), &parent) == 0 && parent.st_dev != st.st_dev) return true;
    return listed_in_mountinfo(path);
}

// 0, or the errno of umount2 when fusermount3 could not do it either.
int lazy_unmount(const std::string& path) {
    if (::umount2(path.c_str(), MNT_DETACH) == 0) return 0;
    const int err = errno;
    const char* argv[] = {"fusermount3", "-u", "-z", path.c_str(), nullptr};
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char**>(argv), environ) !=
        0) {
        return err;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : err;
}

}  // namespace

Result<void> recover_stale_mount(const std::string& mountpoint) {
    for (int attempt = 0; attempt < kMaxStackedMounts; ++attempt) {
        struct stat st {};
        int err = 0;
        if (::stat(mountpoint.c_str(), &st) == 0) {
            if (!is_mount_point(mountpoint, st)) return {};
            // stat() of a dead FUSE mount may be answered from the kernel's attribute cache;
            // statfs() always asks the filesystem, which answers ENOTCONN once its daemon died.
            struct statfs sfs {};
            if (::statfs(mountpoint.c_str(), &sfs) == 0) {
                return fail(mountpoint + " is already mounted (another ipsec-mountd?)");
            }
            err = errno;
        } else {
            err = errno;
        }
        if (err == ENOENT) return fail("mount point " + mountpoint + " does not exist");
        if (err != ENOTCONN) return fail("cannot stat " + mountpoint + ": " + std::strerror(err));
        if (const int unmount_err = lazy_unmount(mountpoint); unmount_err != 0) {
            return fail("cannot unmount the dead FUSE mount at " + mountpoint + ": " +
                        std::strerror(unmount_err));
        }
    }
    return fail(mountpoint + " still answers ENOTCONN after unmounting " +
                std::to_string(kMaxStackedMounts) + " dead FUSE mounts");
}

}  // namespace ipsecfs::fs
