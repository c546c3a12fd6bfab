#include "mountd/lib/control_server.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace ipsecfs::mountd {
namespace {

constexpr std::chrono::seconds kRequestTimeout{30};
constexpr std::chrono::seconds kResponseTimeout{60};

void log_error(const std::string& what) {
    std::fprintf(stderr, "ipsec-mountd: control socket: %s\n", what.c_str());
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::start(ControlListener listener,
                                                            Handler handler,
                                                            Subscriber subscriber) {
    fs::UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) return fail(std::string("eventfd: ") + std::strerror(errno));
    std::unique_ptr<ControlServer> server(new ControlServer(
        std::move(listener), std::move(handler), std::move(subscriber), std::move(wake)));
    server->thread_ = std::thread([s = server.get()] {
        ::pthread_setname_np(::pthread_self(), "ipsec-control");
        s->loop();
    });
    return server;
}

ControlServer::ControlServer(ControlListener listener, Handler handler, Subscriber subscriber,
                             fs::UniqueFd wake)
    : listener_(std::move(listener)),
      handler_(std::move(handler)),
      subscriber_(std::move(subscriber)),
      wake_(std::move(wake)) {}

ControlServer::~ControlServer() {
    stop();
}

void ControlServer::stop() {
    if (!thread_.joinable()) return;
    const uint64_t one = 1;
    while (::write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
    thread_.join();
}

void ControlServer::loop() {
    for (;;) {
        pollfd fds[2] = {{listener_.fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            log_error(std::string("poll: ") + std::strerror(errno));
            return;
        }
        if (fds[1].revents) return;
        if (!fds[0].revents) continue;
        fs::UniqueFd client(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
        if (client) {
            serve(std::move(client));
        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            log_error(std::string("accept: ") + std::strerror(errno));
        }
    }
}

void ControlServer::serve(fs::UniqueFd client) {
    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != 0) {
        const auto refusal =
            Response::failure("permission denied: only root may use " + listener_.path());
        (void)write_frame(client.get(), encode_response(refusal),
                          deadline_in(std::chrono::seconds(1)));
        return;
    }
    auto frame = read_frame(client.get(), kMaxRequestBytes, deadline_in(kRequestTimeout));
    if (!frame) return log_error("pid " + std::to_string(peer.pid) + ": " + frame.error());
    if (!*frame) return;  // connected and left: someone checking that we are alive
    auto request = decode_request(**frame);
    *frame = std::nullopt;  // the raw bytes are not needed while the request runs
    if (request && request->kind == RequestKind::monitor && subscriber_) {
        if (auto r = write_frame(client.get(), encode_response(Response::success()),
                                 deadline_in(kResponseTimeout));
            !r)
            return log_error("pid " + std::to_string(peer.pid) + ": " + r.error());
        return subscriber_(std::move(client));
    }
    const Response response = request ? handler_(*request) : Response::failure(request.error());
    if (auto r =
            write_frame(client.get(), encode_response(response), deadline_in(kResponseTimeout));
        !r)
        log_error("pid " + std::to_string(peer.pid) + ": " + r.error());
}

}  // namespace ipsecfs::mountd
