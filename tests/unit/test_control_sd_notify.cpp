#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "fs/unique_fd.hpp"
#include "mountd/lib/sd_notify.hpp"

using namespace ipsecfs::mountd;
using ipsecfs::fs::UniqueFd;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/ipsecfs-notify-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

// A datagram socket bound to `name` (a path, or '@' and an abstract name), as systemd binds
// its notification socket.
UniqueFd bound_receiver(const std::string& name) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(name.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name.front() == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) == 0);
    return fd;
}

std::string receive(const UniqueFd& fd) {
    char buf[4096];
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    REQUIRE(n >= 0);
    return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("sd_notify sends one datagram to a socket path", "[control]") {
    TempDir dir;
    const std::string path = dir.path + "/notify";
    UniqueFd receiver = bound_receiver(path);
    SystemdNotifier systemd(path);
    REQUIRE(systemd.active());
    REQUIRE(systemd.notify("READY=1\nSTATUS=serving /run/ipsec").ok());
    CHECK(receive(receiver) == "READY=1\nSTATUS=serving /run/ipsec");
    REQUIRE(systemd.notify("STOPPING=1").ok());
    CHECK(receive(receiver) == "STOPPING=1");
}

TEST_CASE("sd_notify reaches an abstract socket named with @", "[control]") {
    const std::string name = "@ipsecfs-test-notify-" + std::to_string(::getpid());
    UniqueFd receiver = bound_receiver(name);
    REQUIRE(SystemdNotifier(name).notify("READY=1").ok());
    CHECK(receive(receiver) == "READY=1");
}

TEST_CASE("sd_notify without NOTIFY_SOCKET does nothing", "[control]") {
    SystemdNotifier none("");
    CHECK_FALSE(none.active());
    CHECK(none.notify("READY=1").ok());
}

TEST_CASE("sd_notify errors are one line", "[control]") {
    TempDir dir;
    auto missing = SystemdNotifier(dir.path + "/nobody").notify("READY=1");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error() == "NOTIFY_SOCKET=" + dir.path + "/nobody: No such file or directory");
    auto vsock = SystemdNotifier("vsock:2:1234").notify("READY=1");
    REQUIRE_FALSE(vsock.ok());
    CHECK(vsock.error().find("only a path or an @abstract name") != std::string::npos);
    auto too_long = SystemdNotifier("/" + std::string(200, 'x')).notify("READY=1");
    REQUIRE_FALSE(too_long.ok());
    CHECK(too_long.error().find("name too long") != std::string::npos);
}

TEST_CASE("sd_notify takes NOTIFY_SOCKET out of the environment", "[control]") {
    REQUIRE(::setenv("NOTIFY_SOCKET", "@ipsecfs-test-env", 1) == 0);
    const SystemdNotifier systemd = SystemdNotifier::from_environment();
    CHECK(systemd.active());
    CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
    CHECK_FALSE(SystemdNotifier::from_environment().active());
}
