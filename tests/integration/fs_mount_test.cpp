// Mounts the filesystem for real (root and /dev/fuse needed, else exit 77) over an in-process
// SADB and checks it with plain POSIX calls, the way operators and scripts use it.

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/command.hpp"
#include "core/render.hpp"
#include "core/sadb.hpp"
#include "fs/ipsec_fs.hpp"
#include "fs/tree.hpp"

namespace ipsecfs::fs {
namespace {

// Runs before Catch2's main: this binary is all real mounts.
const bool kSkipUnlessRootWithFuse = [] {
    if (::geteuid() != 0 || ::access("/dev/fuse", R_OK | W_OK) != 0) {
        std::fprintf(stderr, "fs_mount_test: skipped (needs root and /dev/fuse)\n");
        std::_Exit(77);
    }
    return true;
}();

constexpr int64_t kStartNs = 1'700'000'000'000'000'000;
constexpr gid_t kReadGroup = 4242;
constexpr uid_t kNobody = 65534;

std::string key_hex(std::size_t bytes) {
    return "0x" + std::string(2 * bytes, 'a');
}

std::vector<std::string> esp_args(const std::string& said) {
    const bool v6 = said.find(':') != std::string::npos;
    return {"spi",   "--said",      said,       "--src",    v6 ? "2001:db8::1" : "192.0.2.1",
            "--esp", "aes128gcm16", "--enckey", key_hex(20)};
}

Command parse(const std::vector<std::string>& args) {
    auto cmd = parse_command(args);
    std::string line;
    for (const auto& a : args)
        line += a + " ";
    INFO(line << ": " << (cmd.ok() ? "" : cmd.error()));
    REQUIRE(cmd.ok());
    return *cmd;
}

struct ReadResult {
    int err = 0;  // errno of the first failing call, 0 on success
    std::string text;
};

ReadResult read_path(const std::string& path, std::size_t chunk = 4096) {
    ReadResult r;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {errno, {}};
    std::vector<char> buf(chunk);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            r.err = errno;
            break;
        }
        if (n == 0) break;
        r.text.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return r;
}

int stat_errno(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? 0 : errno;
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    REQUIRE(d != nullptr);
    while (const dirent* e = ::readdir(d))
        out.emplace_back(e->d_name);
    ::closedir(d);
    return out;
}

bool listed_in_mountinfo(const std::string& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.find(" " + path + " ") != std::string::npos) return true;
    }
    return false;
}

std::string make_temp_dir() {
    char tmpl[] = "/tmp/ipsecfs-mount-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    return tmpl;
}

// A child process with other credentials: returns the errno of opening and reading `path`
// (0 when the read succeeds and matches `expected`, 255 on a mismatch).
int read_as(uid_t uid, gid_t gid, const std::string& path, const std::string& expected) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(254);
        const int fd = ::open(path.c_str(), O_RDONLY);
        if (fd < 0) _exit(errno);
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0) _exit(errno);
        const bool same = static_cast<std::size_t>(n) == expected.size() &&
                          std::memcmp(buf, expected.data(), expected.size()) == 0;
        _exit(same ? 0 : 255);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 253;
}

// A SADB with a fake clock, mounted at a fresh directory and served by run() on a thread.
// Cleanup unmounts even when a check failed.
class Mounted {
  public:
    explicit Mounted(std::optional<gid_t> read_group = std::nullopt, unsigned threads = 2,
                     uint32_t busy_request_rate = 0)
        : sadb_(env()), dir_(make_temp_dir()) {
        MountOptions options;
        options.mountpoint = dir_;
        options.threads = threads;
        options.busy_request_rate = busy_request_rate;
        options.read_group = read_group;
        auto fs = IpsecFs::mount(options, sadb_, status_, [this] { return now_.load(); });
        if (!fs) {
            ::rmdir(dir_.c_str());
            FAIL(fs.error());
        }
        fs_ = std::move(*fs);
        runner_ = std::thread([this] { run_rc_ = fs_->run(); });
    }
    ~Mounted() {
        stop();
        fs_.reset();
        if (listed_in_mountinfo(dir_)) ::umount2(dir_.c_str(), MNT_DETACH);
        ::rmdir(dir_.c_str());
    }
    Mounted(const Mounted&) = delete;
    Mounted& operator=(const Mounted&) = delete;

    void stop() {
        if (!runner_.joinable()) return;
        fs_->exit();
        runner_.join();
    }

    std::string path(const std::string& rel = "") const {
        return rel.empty() ? dir_ : dir_ + "/" + rel;
    }
    const std::string& dir() const { return dir_; }
    Sadb& sadb() { return sadb_; }
    DataplaneStatus& status() { return status_; }
    int64_t now() const { return now_.load(); }
    void advance(int64_t seconds) { now_ += seconds * 1'000'000'000; }
    int run_rc() const { return run_rc_; }

    void apply(const std::vector<std::string>& args) {
        auto r = sadb_.apply(parse(args));
        INFO(r.error());
        REQUIRE(r.ok());
    }
    const Sa& sa(const std::string& said) {
        const Sa* sa = sadb_.snapshot()->find(*Said::parse(said));
        REQUIRE(sa != nullptr);
        return *sa;
    }

  private:
    Sadb::Environment env() {
        Sadb::Environment e;
        e.now_ns = [this] { return now_.load(); };
        e.is_local = [](const IpAddress& a) { return a.str() == "192.0.2.2"; };
        e.on_commit = [this](const SadbSnapshot& before, const SadbSnapshot& after) {
            if (fs_) fs_->on_commit(before, after);
        };
        return e;
    }

    std::atomic<int64_t> now_{kStartNs};
    DataplaneStatus status_;
    Sadb sadb_;
    std::string dir_;
    std::unique_ptr<IpsecFs> fs_;
    std::thread runner_;
    int run_rc_ = -1;
};

void add_sample_sas(Mounted& m) {
    m.apply(esp_args("esp.1000@192.0.2.2"));
    m.apply(esp_args("esp.1001@192.0.2.3"));
    m.apply(esp_args("esp:2000@2001:db8::2"));
    m.apply({"spi", "--said", "tun.1001@192.0.2.2", "--ip4", "--src", "192.0.2.1", "--dst",
             "192.0.2.2"});
    m.apply({"spi", "--said", "ah.300@192.0.2.3", "--src", "192.0.2.1", "--ah", "hmac-sha1-96",
             "--authkey", key_hex(20)});
    m.apply({"spigrp", "--said", "tun.1001@192.0.2.2", "esp.1000@192.0.2.2"});
    m.apply({"eroute", "--add", "--eraf", "inet", "--src", "198.51.100.0/24", "--dst",
             "203.0.113.0/24", "--said", "tun.1001@192.0.2.2"});
    m.status().set_tunnel({.tun_name = "ipsec0",
                           .outer_dev = "eth0",
                           .tun_mtu = 1400,
                           .path_mtu = 1500,
                           .outer_mtu = 1500});
    m.status().packets_out.add(5);
    m.sa("esp.1000@192.0.2.2").counters().bytes.add(1234);
    m.sa("esp.1000@192.0.2.2").counters().packets.add(3);
    m.advance(42);
}

}  // namespace

TEST_CASE("root files hold exactly what the renderers print", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const auto snap = m.sadb().snapshot();
    REQUIRE(read_path(m.path("ipsec_spi")).text == render_spi(*snap, m.now()));
    REQUIRE(read_path(m.path("ipsec_spi"), 7).text == render_spi(*snap, m.now()));
    REQUIRE(read_path(m.path("ipsec_eroute")).text == render_eroute(*snap));
    REQUIRE(read_path(m.path("ipsec_spigrp")).text == render_spigrp(*snap));
    REQUIRE(read_path(m.path("ipsec_tncfg")).text == render_tncfg(m.status()));
    REQUIRE(read_path(m.path("ipsec_version")).text == render_version());
    REQUIRE(read_path(m.path("stats")).text == render_stats(m.status()));
    REQUIRE_FALSE(read_path(m.path("ipsec_eroute")).text.empty());
    REQUIRE_FALSE(read_path(m.path("ipsec_spigrp")).text.empty());

    struct stat st {};
    REQUIRE(::stat(m.path("ipsec_spi").c_str(), &st) == 0);
    REQUIRE(st.st_size == 0);
    REQUIRE((st.st_mode & 07777) == 0400);
    REQUIRE(S_ISREG(st.st_mode));
    REQUIRE(st.st_uid == 0);
    REQUIRE(st.st_gid == 0);
    REQUIRE(::stat(m.path().c_str(), &st) == 0);
    REQUIRE((st.st_mode & 07777) == 0500);
    REQUIRE(::stat(m.path("spi").c_str(), &st) == 0);
    REQUIRE(S_ISDIR(st.st_mode));
    REQUIRE(st.st_nlink == 2 + snap->size());
}

TEST_CASE("every SA file holds what render_sa_field prints", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const auto snap = m.sadb().snapshot();
    REQUIRE(snap->size() == 5);
    for (const auto& [said, sa] : snap->sas()) {
        for (std::size_t i = 0; i < kSaFieldCount; ++i) {
            const auto field = static_cast<SaField>(i);
            const std::string rel = "spi/" + said.str() + "/" + std::string(sa_field_name(field));
            INFO(rel);
            const ReadResult r = read_path(m.path(rel));
            REQUIRE(r.err == 0);
            REQUIRE(r.text == render_sa_field(*sa, *snap, field, m.now()));
        }
    }
    const std::string dir = "spi/esp.1000@192.0.2.2/";
    REQUIRE(read_path(m.path(dir + "said")).text == "esp.1000@192.0.2.2\n");
    REQUIRE(read_path(m.path(dir + "life/bytes")).text == "1234,0,0\n");
    REQUIRE(read_path(m.path(dir + "life/add")).text == "42,0,0\n");
    REQUIRE(read_path(m.path("spi/esp:2000@2001:db8::2/said")).text == "esp:2000@2001:db8::2\n");
}

TEST_CASE("directories list the tree", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const auto sorted = [](std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    REQUIRE(sorted(list_dir(m.path())) ==
            sorted({".", "..", "ipsec_spi", "ipsec_eroute", "ipsec_spigrp", "ipsec_tncfg",
                    "ipsec_version", "stats", "metrics", "ipsec_spi.json", "spi"}));
    REQUIRE(sorted(list_dir(m.path("spi"))) ==
            sorted({".", "..", "esp.1000@192.0.2.2", "esp.1001@192.0.2.3", "esp:2000@2001:db8::2",
                    "tun.1001@192.0.2.2", "ah.300@192.0.2.3"}));
    std::set<std::string> files;
    for (const auto& n : list_dir(m.path("spi/esp.1000@192.0.2.2"))) {
        if (n != "." && n != ".." && n != "life") files.insert(n);
    }
    for (const auto& n : list_dir(m.path("spi/esp.1000@192.0.2.2/life"))) {
        if (n != "." && n != "..") files.insert("life/" + n);
    }
    REQUIRE(files == std::set<std::string>(kSaFieldNames.begin(), kSaFieldNames.end()));
    for (const auto& n : files) {
        REQUIRE(n.find("key") == std::string::npos);
    }
}

TEST_CASE("contents are live: each open renders afresh, one open stays consistent", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const Sa& sa = m.sa("esp.1000@192.0.2.2");
    const std::string bytes = m.path("spi/esp.1000@192.0.2.2/life/bytes");
    const std::string before_spi = read_path(m.path("ipsec_spi")).text;
    REQUIRE(read_path(bytes).text == "1234,0,0\n");

    sa.counters().bytes.add(1000);
    sa.counters().packets.add(1);
    REQUIRE(read_path(bytes).text == "2234,0,0\n");
    REQUIRE(read_path(m.path("spi/esp.1000@192.0.2.2/life/packets")).text == "4,0,0\n");
    const std::string after_spi = read_path(m.path("ipsec_spi")).text;
    REQUIRE(after_spi != before_spi);
    REQUIRE(after_spi == render_spi(*m.sadb().snapshot(), m.now()));

    const int fd = ::open(m.path("ipsec_spi").c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    char head[10];
    REQUIRE(::read(fd, head, sizeof(head)) == sizeof(head));
    sa.counters().bytes.add(99'999);
    m.advance(7);
    std::string text(head, sizeof(head));
    char buf[3];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    REQUIRE(text == after_spi);
}

TEST_CASE("the filesystem is read-only", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const std::string file = m.path("ipsec_spi");
    const std::string field = m.path("spi/esp.1000@192.0.2.2/seq");
    const auto open_errno = [](const std::string& p, int flags) {
        const int fd = ::open(p.c_str(), flags, 0600);
        if (fd >= 0) ::close(fd);
        return fd >= 0 ? 0 : errno;
    };
    REQUIRE(open_errno(file, O_WRONLY) == EROFS);
    REQUIRE(open_errno(file, O_RDWR) == EROFS);
    REQUIRE(open_errno(field, O_WRONLY | O_TRUNC) == EROFS);
    REQUIRE(open_errno(m.path("new-file"), O_WRONLY | O_CREAT) == EROFS);
    REQUIRE(open_errno(m.path("spi/new-file"), O_RDWR | O_CREAT) == EROFS);
    const auto err = [](int rc) { return rc == 0 ? 0 : errno; };
    REQUIRE(err(::mkdir(m.path("spi/esp.2222@192.0.2.2").c_str(), 0700)) == EROFS);
    REQUIRE(err(::unlink(field.c_str())) == EROFS);
    REQUIRE(err(::rmdir(m.path("spi/esp.1000@192.0.2.2").c_str())) == EROFS);
    REQUIRE(err(::rename(file.c_str(), m.path("x").c_str())) == EROFS);
    REQUIRE(err(::chmod(file.c_str(), 0644)) == EROFS);
    REQUIRE(err(::chown(file.c_str(), 1, 1)) == EROFS);
    REQUIRE(err(::truncate(field.c_str(), 0)) == EROFS);
    REQUIRE(err(::symlink("ipsec_spi", m.path("link").c_str())) == EROFS);
    REQUIRE(err(::link(file.c_str(), m.path("hard").c_str())) == EROFS);
    REQUIRE(err(::setxattr(file.c_str(), "user.x", "1", 1, 0)) == EROFS);
    REQUIRE(err(::removexattr(file.c_str(), "user.x")) == EROFS);
    REQUIRE(read_path(file).text == render_spi(*m.sadb().snapshot(), m.now()));
}

TEST_CASE("unknown names are ENOENT, SAIDs only in their printed spelling", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    REQUIRE(stat_errno(m.path("nope")) == ENOENT);
    REQUIRE(stat_errno(m.path("life")) == ENOENT);
    REQUIRE(stat_errno(m.path("spi/esp.9999@192.0.2.2")) == ENOENT);
    REQUIRE(stat_errno(m.path("spi/esp0x1000@192.0.2.2")) == ENOENT);
    REQUIRE(stat_errno(m.path("spi/esp.1000@192.0.2.2/nope")) == ENOENT);
    REQUIRE(stat_errno(m.path("spi/esp.1000@192.0.2.2/bytes")) == ENOENT);
    REQUIRE(stat_errno(m.path("spi/esp.1000@192.0.2.2/life/seq")) == ENOENT);
    REQUIRE(stat_errno(m.path("spi/esp.1000@192.0.2.2/enckey")) == ENOENT);
    REQUIRE(stat_errno(m.path("ipsec_spi/x")) == ENOTDIR);
    REQUIRE(read_path(m.path("spi/esp.1000@192.0.2.2")).err == EISDIR);
    // A name that failed is not cached: it appears as soon as the SA does.
    m.apply(esp_args("esp.9999@192.0.2.2"));
    REQUIRE(stat_errno(m.path("spi/esp.9999@192.0.2.2")) == 0);
}

TEST_CASE("a deleted SA's directory is gone at once; a replaced SA is a new directory",
          "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const std::string dir = m.path("spi/esp.1001@192.0.2.3");
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    REQUIRE(read_path(dir + "/life/add").err == 0);
    const int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(dirfd >= 0);
    const int open_fd = ::open((dir + "/said").c_str(), O_RDONLY);
    REQUIRE(open_fd >= 0);

    // spi/'s attributes are cached (stat above), its link count changes at once all the same.
    REQUIRE(::stat(m.path("spi").c_str(), &st) == 0);
    REQUIRE(st.st_nlink == 2 + 5);
    m.apply({"spi", "--said", "esp.1001@192.0.2.3", "--del"});
    REQUIRE(::stat(m.path("spi").c_str(), &st) == 0);
    REQUIRE(st.st_nlink == 2 + 4);
    REQUIRE(stat_errno(dir) == ENOENT);
    REQUIRE(read_path(dir + "/said").err == ENOENT);
    const auto names = list_dir(m.path("spi"));
    REQUIRE(std::find(names.begin(), names.end(), "esp.1001@192.0.2.3") == names.end());
    // Through a descriptor opened before: opens fail, reads of an earlier open still finish.
    const int late = ::openat(dirfd, "seq", O_RDONLY);
    REQUIRE(late < 0);
    REQUIRE(errno == ENOENT);
    char buf[64];
    REQUIRE(::read(open_fd, buf, sizeof(buf)) ==
            static_cast<ssize_t>(sizeof("esp.1001@192.0.2.3")));
    ::close(open_fd);
    ::close(dirfd);

    const std::string kept = m.path("spi/esp.1000@192.0.2.2");
    REQUIRE(::stat(kept.c_str(), &st) == 0);
    const ino_t old_ino = st.st_ino;
    auto replace = esp_args("esp.1000@192.0.2.2");
    replace.push_back("--replace");
    m.apply(replace);
    REQUIRE(::stat(kept.c_str(), &st) == 0);
    REQUIRE(st.st_ino != old_ino);
    REQUIRE(read_path(kept + "/life/bytes").text == "0,0,0\n");

    m.apply({"spi", "--clear"});
    REQUIRE(list_dir(m.path("spi")).size() == 2);
    REQUIRE(stat_errno(kept) == ENOENT);
}

TEST_CASE("while packets flow, a busy request rate holds a reader back; idle, it does not",
          "[fs][mount]") {
    constexpr uint32_t kRate = 100;
    Mounted m(std::nullopt, 2, kRate);
    add_sample_sas(m);
    const std::string field = m.path("spi/esp.1000@192.0.2.2/seq");
    // Each read by path is at least 4 requests (lookup of the SA's name, open, read, read at
    // the end); 30 of them are at least 120, more than the burst of kRate.
    const auto read_30 = [&] {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 30; ++i)
            REQUIRE(read_path(field).err == 0);
        return std::chrono::steady_clock::now() - start;
    };
    CHECK(read_30() < std::chrono::milliseconds(200));  // no traffic: no limit

    std::atomic<bool> flowing{true};
    std::thread traffic([&] {
        while (flowing) {
            m.status().tun_read_frames.add();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto busy = read_30();
    flowing = false;
    traffic.join();
    // At least 20 requests beyond the burst, at kRate a second.
    CHECK(busy >= std::chrono::milliseconds(200));
    CHECK(busy < std::chrono::seconds(5));

    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // quiet again
    CHECK(read_30() < std::chrono::milliseconds(200));
}

TEST_CASE("only root reads by default; a read group opens the files to its members",
          "[fs][mount]") {
    SECTION("default: root only") {
        Mounted m;
        add_sample_sas(m);
        const std::string expected = read_path(m.path("ipsec_version")).text;
        REQUIRE(read_as(kNobody, kNobody, m.path("ipsec_version"), expected) == EACCES);
        REQUIRE(read_as(kNobody, kReadGroup, m.path("ipsec_version"), expected) == EACCES);
        REQUIRE(read_as(0, 0, m.path("ipsec_version"), expected) == 0);
    }
    SECTION("with read_group") {
        Mounted m(kReadGroup);
        add_sample_sas(m);
        const std::string field = m.path("spi/esp.1000@192.0.2.2/life/bytes");
        struct stat st {};
        REQUIRE(::stat(field.c_str(), &st) == 0);
        REQUIRE((st.st_mode & 07777) == 0440);
        REQUIRE(st.st_gid == kReadGroup);
        REQUIRE(::stat(m.path("spi").c_str(), &st) == 0);
        REQUIRE((st.st_mode & 07777) == 0550);
        const std::string expected = read_path(field).text;
        REQUIRE(read_as(kNobody, kReadGroup, field, expected) == 0);
        REQUIRE(read_as(kNobody, kNobody, field, expected) == EACCES);
    }
}

TEST_CASE("exit() makes run() return and the mount goes away", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    REQUIRE(listed_in_mountinfo(m.dir()));
    const int held = ::open(m.path("ipsec_spi").c_str(), O_RDONLY);  // a reader keeps a file open
    REQUIRE(held >= 0);
    const auto t0 = std::chrono::steady_clock::now();
    m.stop();
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(m.run_rc() == 0);
    CHECK(took < std::chrono::seconds(2));
    REQUIRE_FALSE(listed_in_mountinfo(m.dir()));
    ::close(held);
}

TEST_CASE("recover_stale_mount: refuses live mounts, detaches dead ones", "[fs][mount]") {
    SECTION("missing and plain directories") {
        const auto missing = recover_stale_mount("/tmp/ipsecfs-no-such-dir-for-sure");
        REQUIRE_FALSE(missing.ok());
        REQUIRE(missing.error() == "mount point /tmp/ipsecfs-no-such-dir-for-sure does not exist");
        const std::string dir = make_temp_dir();
        REQUIRE(recover_stale_mount(dir).ok());
        ::rmdir(dir.c_str());
    }
    SECTION("a live mount is an error") {
        Mounted m;
        const auto r = recover_stale_mount(m.dir());
        REQUIRE_FALSE(r.ok());
        REQUIRE(r.error() == m.dir() + " is already mounted (another ipsec-mountd?)");
        REQUIRE(read_path(m.path("ipsec_version")).err == 0);
    }
    SECTION("the mount of a killed daemon is detached and the point reused") {
        const std::string dir = make_temp_dir();
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(ready[0]);
            Sadb sadb{Sadb::Environment{}};
            DataplaneStatus status;
            MountOptions options;
            options.mountpoint = dir;
            auto fs = IpsecFs::mount(options, sadb, status, [] { return int64_t{0}; });
            if (!fs) _exit(1);
            std::thread([&] { (*fs)->run(); }).detach();
            [[maybe_unused]] const ssize_t n = ::write(ready[1], "m", 1);
            for (;;)
                ::pause();
        }
        ::close(ready[1]);
        char byte = 0;
        const bool mounted = ::read(ready[0], &byte, 1) == 1;
        ::close(ready[0]);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        if (!mounted) ::rmdir(dir.c_str());
        REQUIRE(mounted);

        const int stale_errno = stat_errno(dir);
        const auto recovered = recover_stale_mount(dir);
        const bool still_listed = listed_in_mountinfo(dir);
        if (still_listed) ::umount2(dir.c_str(), MNT_DETACH);
        CHECK(stale_errno == ENOTCONN);
        INFO(recovered.error());
        CHECK(recovered.ok());
        CHECK_FALSE(still_listed);
        REQUIRE(stat_errno(dir) == 0);

        {
            Sadb sadb{Sadb::Environment{}};
            DataplaneStatus status;
            MountOptions options;
            options.mountpoint = dir;
            auto fs = IpsecFs::mount(options, sadb, status, [] { return int64_t{0}; });
            REQUIRE(fs.ok());
            std::thread runner([&] { (*fs)->run(); });
            const ReadResult version = read_path(dir + "/ipsec_version");
            (*fs)->exit();
            runner.join();
            CHECK(version.text == render_version());
        }
        REQUIRE_FALSE(listed_in_mountinfo(dir));
        ::rmdir(dir.c_str());
    }
}

// --- poll ----------------------------------------------------------------------------------------

namespace {

constexpr short kChanged = POLLIN | POLLPRI;

// revents of one poll() for POLLIN|POLLPRI, 0 on timeout.
short poll_events(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN | POLLPRI, 0};
    const int n = ::poll(&p, 1, timeout_ms);
    REQUIRE(n >= 0);
    return n == 0 ? 0 : p.revents;
}

std::string read_from_start(int fd) {
    std::string text;
    char buf[4096];
    for (off_t off = 0;;) {
        const ssize_t n = ::pread(fd, buf, sizeof(buf), off);
        REQUIRE(n >= 0);
        if (n == 0) return text;
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
}

int open_ro(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    return fd;
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

TEST_CASE("poll: ipsec_spi wakes when an SA is added, replaced or deleted, not before",
          "[fs][mount][poll]") {
    Mounted m;
    add_sample_sas(m);
    int fd = open_ro(m.path("ipsec_spi"));
    REQUIRE(poll_events(fd, 200) == 0);
    REQUIRE(poll_events(fd, 0) == 0);

    // Counters, ages, eroutes and groups are not the SA list.
    m.sa("esp.1000@192.0.2.2").counters().bytes.add(5);
    m.advance(3);
    m.apply({"eroute", "--add", "--src", "198.51.100.0/24", "--dst", "203.0.113.128/25", "--said",
             "esp.1000@192.0.2.2"});
    m.apply({"spigrp", "--said", "tun.1001@192.0.2.2"});
    REQUIRE(poll_events(fd, 200) == 0);

    // Added: readable at once, and still readable until the reader reads from the start again.
    m.apply(esp_args("esp.4000@192.0.2.2"));
    REQUIRE(poll_events(fd, 0) == kChanged);
    REQUIRE(poll_events(fd, 1000) == kChanged);
    const std::string text = read_from_start(fd);
    REQUIRE(text == render_spi(*m.sadb().snapshot(), m.now()));
    REQUIRE(text.find("esp.4000@192.0.2.2") != std::string::npos);
    REQUIRE(poll_events(fd, 200) == 0);

    // Replaced: a new instance under the same SAID.
    auto replace = esp_args("esp.4000@192.0.2.2");
    replace.push_back("--replace");
    m.apply(replace);
    REQUIRE(poll_events(fd, 0) == kChanged);
    read_from_start(fd);
    REQUIRE(poll_events(fd, 0) == 0);

    // Deleted while a poll blocks in another thread: the commit wakes it.
    short woken = -1;
    double waited_ms = 0;
    std::thread poller([&] {
        const auto t = Clock::now();
        woken = poll_events(fd, 5000);
        waited_ms = ms_since(t);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    m.apply({"spi", "--said", "esp.4000@192.0.2.2", "--del"});
    poller.join();
    CHECK(woken == kChanged);
    CHECK(waited_ms >= 250);
    CHECK(waited_ms < 2000);
    REQUIRE(read_from_start(fd).find("esp.4000") == std::string::npos);
    REQUIRE(poll_events(fd, 100) == 0);

    // A reader that reopens after the wake waits for the next change, too.
    m.apply(esp_args("esp.4001@192.0.2.2"));
    REQUIRE(poll_events(fd, 0) == kChanged);
    ::close(fd);
    fd = open_ro(m.path("ipsec_spi"));
    REQUIRE(poll_events(fd, 200) == 0);
    m.apply({"spi", "--clear"});
    REQUIRE(poll_events(fd, 1000) == kChanged);
    REQUIRE(read_from_start(fd).empty());
    REQUIRE(poll_events(fd, 100) == 0);
    ::close(fd);
}

TEST_CASE("poll: ipsec_eroute and ipsec_spigrp wake for their own changes only",
          "[fs][mount][poll]") {
    Mounted m;
    add_sample_sas(m);
    const int spi = open_ro(m.path("ipsec_spi"));
    const int eroute = open_ro(m.path("ipsec_eroute"));
    const int spigrp = open_ro(m.path("ipsec_spigrp"));
    const auto events = [&] {
        return std::vector<short>{poll_events(spi, 0), poll_events(eroute, 0),
                                  poll_events(spigrp, 0)};
    };
    REQUIRE(events() == std::vector<short>{0, 0, 0});

    m.apply({"eroute", "--add", "--src", "198.51.100.0/24", "--dst", "203.0.113.128/25", "--said",
             "esp.1000@192.0.2.2"});
    REQUIRE(events() == std::vector<short>{0, kChanged, 0});
    REQUIRE(read_from_start(eroute).find("203.0.113.128/25") != std::string::npos);
    REQUIRE(events() == std::vector<short>{0, 0, 0});

    m.apply({"spigrp", "--said", "tun.1001@192.0.2.2"});
    REQUIRE(events() == std::vector<short>{0, 0, kChanged});
    REQUIRE(read_from_start(spigrp).empty());

    // One batch that changes all three wakes all three.
    {
        auto tx = m.sadb().begin();
        REQUIRE(tx.apply(parse(esp_args("esp.5000@192.0.2.2"))).ok());
        REQUIRE(
            tx.apply(parse({"spigrp", "--said", "tun.1001@192.0.2.2", "esp.5000@192.0.2.2"})).ok());
        REQUIRE(tx.apply(parse({"eroute", "--del", "--src", "198.51.100.0/24", "--dst",
                                "203.0.113.128/25"}))
                    .ok());
        tx.commit();
    }
    REQUIRE(events() == std::vector<short>{kChanged, kChanged, kChanged});
    ::close(spi);
    ::close(eroute);
    ::close(spigrp);
}

TEST_CASE("poll: one commit wakes every waiting open, through poll, epoll and select",
          "[fs][mount][poll]") {
    Mounted m(std::nullopt, 4);
    add_sample_sas(m);
    constexpr int kOpens = 40;
    std::vector<pollfd> fds;
    for (int i = 0; i < kOpens; ++i)
        fds.push_back({open_ro(m.path("ipsec_spi")), POLLIN | POLLPRI, 0});
    const int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(epfd >= 0);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLPRI;
    ev.data.fd = fds[0].fd;
    REQUIRE(::epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0].fd, &ev) == 0);
    epoll_event got{};
    REQUIRE(::epoll_wait(epfd, &got, 1, 100) == 0);

    int polled = -1;
    int epolled = -1;
    int selected = -1;
    uint32_t epoll_events = 0;
    bool select_pri = false;
    std::thread poller([&] { polled = ::poll(fds.data(), fds.size(), 5000); });
    std::thread epoller([&] {
        epoll_event e{};
        epolled = ::epoll_wait(epfd, &e, 1, 5000);
        epoll_events = e.events;
    });
    std::thread selecter([&] {
        fd_set rd;
        fd_set ex;
        FD_ZERO(&rd);
        FD_ZERO(&ex);
        FD_SET(fds[1].fd, &rd);
        FD_SET(fds[1].fd, &ex);
        timeval tv{5, 0};
        selected = ::select(fds[1].fd + 1, &rd, nullptr, &ex, &tv);
        select_pri = FD_ISSET(fds[1].fd, &ex);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t = Clock::now();
    m.apply(esp_args("esp.4000@192.0.2.2"));
    poller.join();
    epoller.join();
    selecter.join();
    INFO("woken " << ms_since(t) << " ms after the commit");
    CHECK(ms_since(t) < 2000);
    CHECK(polled == kOpens);
    for (const pollfd& p : fds)
        CHECK(p.revents == kChanged);
    CHECK(epolled == 1);
    CHECK(epoll_events == (EPOLLIN | EPOLLPRI));
    CHECK(selected == 2);  // readable and exceptional
    CHECK(select_pri);

    // Closing opens that left a poll handle behind is clean; the others carry on.
    for (int i = 2; i < kOpens; ++i)
        ::close(fds[i].fd);
    REQUIRE(read_from_start(fds[0].fd).find("esp.4000") != std::string::npos);
    REQUIRE(::epoll_wait(epfd, &got, 1, 100) == 0);
    m.apply({"spi", "--said", "esp.4000@192.0.2.2", "--del"});
    REQUIRE(::epoll_wait(epfd, &got, 1, 2000) == 1);
    ::close(epfd);
    ::close(fds[0].fd);
    ::close(fds[1].fd);
}

TEST_CASE("poll: the other files are always readable", "[fs][mount][poll]") {
    Mounted m;
    add_sample_sas(m);
    for (const char* rel : {"ipsec_tncfg", "ipsec_version", "stats", "spi/esp.1000@192.0.2.2/said",
                            "spi/esp.1000@192.0.2.2/life/bytes"}) {
        INFO(rel);
        const int fd = open_ro(m.path(rel));
        REQUIRE(poll_events(fd, 1000) == POLLIN);
        ::close(fd);
    }
}

TEST_CASE("reading from offset 0 again renders the file afresh", "[fs][mount]") {
    Mounted m;
    add_sample_sas(m);
    const Sa& sa = m.sa("esp.1000@192.0.2.2");
    const int fd = open_ro(m.path("spi/esp.1000@192.0.2.2/life/bytes"));
    char buf[64];
    REQUIRE(::read(fd, buf, sizeof(buf)) == 9);
    REQUIRE(std::string(buf, 9) == "1234,0,0\n");
    sa.counters().bytes.add(1000);
    REQUIRE(::read(fd, buf, sizeof(buf)) == 0);  // read on: the same pass, at its end
    REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
    REQUIRE(::read(fd, buf, sizeof(buf)) == 9);
    REQUIRE(std::string(buf, 9) == "2234,0,0\n");
    REQUIRE(read_from_start(fd) == "2234,0,0\n");

    // A pass that reads in pieces stays one text.
    sa.counters().bytes.add(1000);
    REQUIRE(::pread(fd, buf, 2, 0) == 2);
    sa.counters().bytes.add(10'000);
    REQUIRE(::pread(fd, buf + 2, sizeof(buf) - 2, 2) == 7);
    REQUIRE(std::string(buf, 9) == "3234,0,0\n");

    // The SA went away: a new pass shows its last text.
    m.apply({"spi", "--said", "esp.1000@192.0.2.2", "--del"});
    REQUIRE(read_from_start(fd) == "3234,0,0\n");
    ::close(fd);
}

TEST_CASE("timing with 100,000 SAs (reported, not asserted)", "[fs][mount][timing]") {
    using Clock = std::chrono::steady_clock;
    const auto ms = [](Clock::duration d) {
        return std::chrono::duration<double, std::milli>(d).count();
    };
    constexpr uint32_t kSas = 100'000;
    Mounted m;
    const auto proto = std::get<SpiAdd>(parse(esp_args("esp.1000@192.0.2.2")));
    const auto t_add = Clock::now();
    {
        auto tx = m.sadb().begin();
        for (uint32_t i = 0; i < kSas; ++i) {
            SpiAdd add = proto;
            add.config.said.spi = 0x1000 + i;
            auto r = tx.apply(add);
            REQUIRE(r.ok());
        }
        tx.commit();
    }
    const double add_ms = ms(Clock::now() - t_add);

    const auto t_cat = Clock::now();
    const ReadResult spi = read_path(m.path("ipsec_spi"), 128 * 1024);
    const double cat_ms = ms(Clock::now() - t_cat);
    REQUIRE(static_cast<std::size_t>(std::count(spi.text.begin(), spi.text.end(), '\n')) == kSas);

    const auto t_ls = Clock::now();
    const auto names = list_dir(m.path("spi"));
    const double ls_ms = ms(Clock::now() - t_ls);
    REQUIRE(names.size() == kSas + 2);

    std::vector<double> field_us;
    for (uint32_t i = 0; i < 2000; ++i) {
        char said[32];
        std::snprintf(said, sizeof(said), "esp.%x@192.0.2.2", 0x1000 + (i * 7919) % kSas);
        const std::string path = m.path(std::string("spi/") + said + "/life/bytes");
        const auto t = Clock::now();
        const ReadResult r = read_path(path);
        field_us.push_back(ms(Clock::now() - t) * 1000.0);
        REQUIRE(r.err == 0);
    }
    const double first_us = field_us.front();
    std::sort(field_us.begin(), field_us.end());

    std::vector<double> hot_us;
    const std::string hot = m.path("spi/esp.1000@192.0.2.2/life/bytes");
    for (int i = 0; i < 2000; ++i) {
        const auto t = Clock::now();
        const ReadResult r = read_path(hot);
        hot_us.push_back(ms(Clock::now() - t) * 1000.0);
        REQUIRE(r.err == 0);
    }
    std::sort(hot_us.begin(), hot_us.end());
    std::printf(
        "timing, %u SAs: add in one transaction %.0f ms; cat ipsec_spi (%zu bytes) %.1f ms; "
        "ls spi/ %.1f ms; open+read+close spi/SAID/life/bytes median %.1f us, p99 %.1f us "
        "(first read, which builds the id index, %.1f us); the same file again and again: "
        "median %.1f us, p99 %.1f us\n",
        kSas, add_ms, spi.text.size(), cat_ms, ls_ms, field_us[field_us.size() / 2],
        field_us[field_us.size() * 99 / 100], first_us, hot_us[hot_us.size() / 2],
        hot_us[hot_us.size() * 99 / 100]);
}

}  // namespace ipsecfs::fs
