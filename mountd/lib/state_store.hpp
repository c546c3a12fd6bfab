#pragma once
// The state file on disk; its bytes are core/state_codec.hpp's. Each write replaces the whole
// file: a temporary file in the same directory is written and fsynced, renamed over the old one,
// and the directory fsynced, so after a crash at any point the file is the old state or the new
// one, never a mix. Mode 0600 (it holds keys); missing directories are made 0700. PATH.lock is
// held (flock) while a daemon uses the file, so two daemons never share one.

#include <cstdint>
#include <span>
#include <string>

#include "core/result.hpp"
#include "core/state_codec.hpp"
#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

class StateStore {
  public:
    // Makes the directory if missing and takes the lock; refuses a file another daemon holds.
    static Result<StateStore> open(const std::string& path);

    const std::string& path() const { return path_; }

    struct Loaded {
        bool missing = false;  // no file: an empty start
        StateDecode decoded;   // otherwise: the state, or the problem found in it
    };
    // Errors are the file's I/O problems ("cannot read …"); a damaged file is a Loaded whose
    // decoded.problem says what is wrong.
    Result<Loaded> load() const;
    // Moves the file aside as PATH.bad-EPOCH (seconds); returns that name.
    Result<std::string> move_aside(int64_t epoch_seconds) const;
    Result<void> write(std::span<const uint8_t> bytes) const;

  private:
    StateStore(std::string path, fs::UniqueFd dir, fs::UniqueFd lock)
        : path_(std::move(path)), dir_(std::move(dir)), lock_(std::move(lock)) {}

    std::string path_;
    fs::UniqueFd dir_;   // for fsync after a rename
    fs::UniqueFd lock_;  // PATH.lock, flocked
};

}  // namespace ipsecfs::mountd
