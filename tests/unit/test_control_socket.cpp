#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "mountd/lib/control_client.hpp"
#include "mountd/lib/control_listener.hpp"
#include "mountd/lib/control_server.hpp"

using namespace ipsecfs;
using namespace ipsecfs::mountd;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/ipsecfs-control-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("a control server answers clients and removes its socket", "[control][threads]") {
    TempDir dir;
    const std::string path = dir.path + "/ctl.sock";
    auto listener = ControlListener::open(path);
    REQUIRE(listener.ok());

    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(S_ISSOCK(st.st_mode));

    auto server = ControlServer::start(std::move(*listener), [](const Request& r) {
        return Response::success("got " + r.lines.front().argv.front() + "\n");
    });
    REQUIRE(server.ok());

    auto response = call_daemon(path, {RequestKind::command, {{0, {"spi"}}}});
    REQUIRE(response.ok());
    CHECK(response->text == "got spi\n");

    SECTION("a second daemon on the same socket is refused") {
        auto second = ControlListener::open(path);
        REQUIRE_FALSE(second.ok());
        CHECK(second.error() == "control socket " + path + " is in use by another ipsec-mountd");
        // The probe did not disturb the first one.
        CHECK(call_daemon(path, {RequestKind::command, {{0, {"look"}}}}).ok());
    }
    SECTION("stopping removes the socket file") {
        server->reset();
        CHECK_FALSE(std::filesystem::exists(path));
        auto gone = call_daemon(path, {RequestKind::command, {{0, {"spi"}}}});
        REQUIRE_FALSE(gone.ok());
        CHECK(gone.error().rfind("cannot reach ipsec-mountd at " + path + ": ", 0) == 0);
    }
}

TEST_CASE("a dead control socket file is taken over; other files are not", "[control]") {
    TempDir dir;
    const std::string path = dir.path + "/ctl.sock";
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        ::close(fd);  // the file stays, nobody listens: what a killed daemon leaves
    }
    CHECK(ControlListener::open(path).ok());

    const std::string plain = dir.path + "/not-a-socket";
    {
        std::FILE* f = std::fopen(plain.c_str(), "w");
        std::fclose(f);
    }
    auto refused = ControlListener::open(plain);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().find("is not a socket") != std::string::npos);
    CHECK(std::filesystem::exists(plain));
}
