#include "mountd/lib/control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {
namespace {

constexpr std::chrono::seconds kSendTimeout{60};
// A batch of many SAs is applied before the answer comes.
constexpr std::chrono::seconds kAnswerTimeout{600};

Result<fs::UniqueFd> connect_daemon(const std::string& path) {
    const std::string unreachable = "cannot reach ipsec-mountd at " + path + ": ";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return fail(unreachable + "path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fs::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(unreachable + std::strerror(errno));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        return fail(unreachable + std::strerror(errno));
    return fd;
}

// One request and its answer on a connection that stays open.
Result<Response> exchange(int fd, const std::string& path, const Request& request) {
    auto payload = encode_request(request);
    if (!payload) return std::move(payload).take_error();
    const std::string broken = "ipsec-mountd at " + path + ": ";
    // A daemon that refuses us answers at once and stops reading: look for that answer
    // before reporting a failed write.
    auto sent = write_frame(fd, *payload, deadline_in(kSendTimeout));
    auto frame = read_frame(fd, kMaxResponseBytes,
                            deadline_in(sent ? kAnswerTimeout : std::chrono::seconds(1)));
    if (!sent && (!frame || !*frame)) return fail(broken + sent.error());
    if (!frame) return fail(broken + frame.error());
    if (!*frame) return fail(broken + "closed the connection without an answer");
    auto response = decode_response(**frame);
    if (!response) return fail(broken + response.error());
    return response;
}

}  // namespace

Result<Response> call_daemon(const std::string& path, const Request& request) {
    auto fd = connect_daemon(path);
    if (!fd) return std::move(fd).take_error();
    return exchange(fd->get(), path, request);
}

Result<fs::UniqueFd> open_monitor(const std::string& path) {
    auto fd = connect_daemon(path);
    if (!fd) return std::move(fd).take_error();
    auto response = exchange(fd->get(), path, Request{RequestKind::monitor, {}});
    if (!response) return std::move(response).take_error();
    if (response->status != ResponseStatus::ok) return fail(response->text);
    return std::move(*fd);
}

}  // namespace ipsecfs::mountd
