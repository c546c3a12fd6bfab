#include "mountd/lib/state_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ipsecfs::mountd {
namespace {

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

// mkdir -p with mode 0700 for each directory made.
Result<void> make_directories(const std::filesystem::path& dir) {
    std::filesystem::path sofar;
    for (const auto& part : dir) {
        sofar /= part;
        if (::mkdir(sofar.c_str(), 0700) != 0 && errno != EEXIST)
            return fail(errno_text("cannot create directory " + sofar.string()));
    }
    return {};
}

Result<void> write_all(int fd, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(n < 0 ? std::strerror(errno) : "short write");
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

Result<StateStore> StateStore::open(const std::string& path) {
    const std::filesystem::path file(path);
    const std::filesystem::path dir = file.parent_path();
    if (file.filename().empty()) return fail("state file " + path + ": not a file name");
    if (auto r = make_directories(dir); !r) return fail("state file " + path + ": " + r.error());
    fs::UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return fail(errno_text("state file " + path + ": cannot open " + dir.string()));
    const std::string lock_path = path + ".lock";
    fs::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock) return fail(errno_text("state file " + path + ": cannot open " + lock_path));
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return fail("state file " + path + " is in use by another ipsec-mountd");
        return fail(errno_text("state file " + path + ": cannot lock " + lock_path));
    }
    return StateStore(path, std::move(dir_fd), std::move(lock));
}

Result<StateStore::Loaded> StateStore::load() const {
    Loaded loaded;
    fs::UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) {
            loaded.missing = true;
            return loaded;
        }
        return fail(errno_text("state file " + path_ + ": cannot read"));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return fail(errno_text("state file " + path_ + ": cannot read"));
    if (!S_ISREG(st.st_mode)) return fail("state file " + path_ + ": not a regular file");
    StateBytes bytes;
    bytes.reserve(static_cast<std::size_t>(st.st_size));
    uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            explicit_bzero(buf, sizeof buf);
            return fail(errno_text("state file " + path_ + ": cannot read"));
        }
        if (n == 0) break;
        bytes.insert(bytes.end(), buf, buf + n);
    }
    explicit_bzero(buf, sizeof buf);
    loaded.decoded = decode_state(bytes);
    return loaded;
}

Result<std::string> StateStore::move_aside(int64_t epoch_seconds) const {
    const std::string bad = path_ + ".bad-" + std::to_string(epoch_seconds);
    if (::rename(path_.c_str(), bad.c_str()) != 0)
        return fail(errno_text("state file " + path_ + ": cannot move it to " + bad));
    ::fsync(dir_.get());
    return bad;
}

Result<void> StateStore::write(std::span<const uint8_t> bytes) const {
    const std::string tmp = path_ + ".tmp";
    const auto failed = [&](const std::string& what) {
        const std::string message = errno_text("state file " + path_ + ": cannot write " + what);
        ::unlink(tmp.c_str());
        return fail(message);
    };
    fs::UniqueFd fd(
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return failed(tmp);
    if (::fchmod(fd.get(), 0600) != 0) return failed(tmp);
    if (auto r = write_all(fd.get(), bytes); !r) {
        ::unlink(tmp.c_str());
        return fail("state file " + path_ + ": cannot write " + tmp + ": " + r.error());
    }
    if (::fsync(fd.get()) != 0) return failed(tmp);
    fd.reset();
    if (::rename(tmp.c_str(), path_.c_str()) != 0) return failed(path_);
    if (::fsync(dir_.get()) != 0)
        return fail(errno_text("state file " + path_ + ": fsync of its directory"));
    return {};
}

}  // namespace ipsecfs::mountd
