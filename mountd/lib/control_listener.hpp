#pragma once
// The daemon's end of the control socket: a listening AF_UNIX stream socket, mode 0600, whose
// file is removed again when the listener goes away.

#include <string>

#include "core/result.hpp"
#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

class ControlListener {
  public:
    // Refuses a path where a live daemon answers; a dead socket file left behind is removed.
    static Result<ControlListener> open(const std::string& path);

    ControlListener(ControlListener&& other) noexcept
        : fd_(std::move(other.fd_)), path_(std::exchange(other.path_, {})) {}
    ControlListener& operator=(ControlListener&&) = delete;
    ~ControlListener();

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

  private:
    ControlListener(fs::UniqueFd fd, std::string path)
        : fd_(std::move(fd)), path_(std::move(path)) {}

    fs::UniqueFd fd_;
    std::string path_;  // empty once moved from: nothing to remove
};

}  // namespace ipsecfs::mountd
