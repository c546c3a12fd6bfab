#pragma once
// Serves the control socket on a thread of its own, one client at a time: check that the peer
// is root (SO_PEERCRED), read one request, answer it, close. Every read and write has a
// deadline, so a stuck client delays the others by a bounded time only. A monitor request is
// answered ok and its connection handed to the subscriber callback, which keeps it.

#include <functional>
#include <thread>

#include "core/result.hpp"
#include "fs/unique_fd.hpp"
#include "mountd/lib/control_listener.hpp"
#include "mountd/lib/control_protocol.hpp"

namespace ipsecfs::mountd {

class ControlServer {
  public:
    using Handler = std::function<Response(const Request&)>;
    using Subscriber = std::function<void(fs::UniqueFd)>;

    static Result<std::unique_ptr<ControlServer>> start(ControlListener listener, Handler handler,
                                                        Subscriber subscriber = {});
    ~ControlServer();  // stops the thread; the listener removes the socket file
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Makes the thread return and waits for it. Safe to call more than once.
    void stop();

  private:
    ControlServer(ControlListener listener, Handler handler, Subscriber subscriber,
                  fs::UniqueFd wake);
    void loop();
    void serve(fs::UniqueFd client);

    ControlListener listener_;
    Handler handler_;
    Subscriber subscriber_;
    fs::UniqueFd wake_;  // eventfd: written by stop()
    std::thread thread_;
};

}  // namespace ipsecfs::mountd
