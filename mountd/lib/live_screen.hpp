#pragma once
// Where the live views (`ipsec spi --watch`, `ipsec top`) draw and what they wait for.
//
// On a terminal: the alternate screen with the cursor hidden, keys read one at a time without
// echo, each frame redrawn in place; the terminal's modes, screen and cursor come back when the
// object goes away. Otherwise (piped, or batch mode): frames written one after another as plain
// text, no escape codes. Either way SIGINT, SIGTERM and SIGHUP end the view cleanly instead of
// killing the process, and SIGWINCH asks for a redraw.

#include <termios.h>

#include <chrono>
#include <cstddef>
#include <string_view>

#include "core/result.hpp"
#include "fs/unique_fd.hpp"

namespace ipsecfs::mountd {

class LiveScreen {
  public:
    // `plain`: never take over the terminal, even when stdout is one.
    static Result<LiveScreen> open(bool plain);
    LiveScreen(LiveScreen&& other) noexcept;
    LiveScreen& operator=(LiveScreen&&) = delete;
    ~LiveScreen();

    bool interactive() const { return interactive_; }
    // Columns and rows of the terminal; 0 and 0 when not interactive.
    std::size_t columns() const { return columns_; }
    std::size_t rows() const { return rows_; }

    enum class Event { timeout, key, quit, resize, file };
    struct Wait {
        Event event = Event::timeout;
        char key = 0;       // Event::key
        short revents = 0;  // Event::file
    };
    // Waits until `deadline` for a key (interactive only), a signal, or `fd` (POLLIN|POLLPRI;
    // -1 waits for no file).
    Result<Wait> wait(std::chrono::steady_clock::time_point deadline, int fd);

    // Shows one frame (lines ending in '\n'): redrawn in place on a terminal, cut to its rows and
    // columns; appended otherwise. False when the output is gone.
    bool show(std::string_view frame);

  private:
    LiveScreen(fs::UniqueFd signals, sigset_t old_mask)
        : signals_(std::move(signals)), old_mask_(old_mask) {}
    void take_terminal();
    void restore();
    void read_size();

    fs::UniqueFd signals_;  // signalfd
    sigset_t old_mask_;
    bool interactive_ = false;
    bool keys_ = false;  // stdin is the terminal: its modes were changed
    termios saved_{};
    std::size_t columns_ = 0;
    std::size_t rows_ = 0;
};

}  // namespace ipsecfs::mountd
