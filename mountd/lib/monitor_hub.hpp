#pragma once
// The `ipsec monitor` connections: each gets every event line as it is published. A client
// that does not read (its socket buffer, a few thousand lines, is full) is disconnected rather
// than allowed to hold up the others or the lifetime watcher.

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

class MonitorHub {
  public:
    void add(fs::UniqueFd client);
    // One line, without its newline.
    void publish(const std::string& line);
    std::size_t subscribers() const;

  private:
    mutable std::mutex mutex_;
    std::vector<fs::UniqueFd> clients_;
};

}  // namespace ipsecfs::mountd
