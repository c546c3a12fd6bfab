#pragma once
// The control socket's wire format, shared by ipsec-mountd and the ipsec command.
//
// Every message is one frame: a 4-byte big-endian payload length, then the payload.
//   request  = u8 version (1), u8 kind (1 command, 2 batch, 3 monitor), u32 count,
//              count x { u32 line, u32 word count, word count x { u32 length, bytes } }
//   response = u8 version (1), u8 status (0 ok, 1 error), then the text (output, or one error line)
// Integers are big-endian. A command request holds exactly one command line; a batch holds many,
// applied in one SADB transaction. A monitor request holds none: after its ok response the
// connection stays open and carries lifetime events, one text line each, until either side
// closes it. The limits below bound what a peer can make us allocate.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ipsecfs::mountd {

inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kMaxRequestBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxResponseBytes = std::size_t{512} << 20;
inline constexpr std::size_t kMaxCommandLines = 1'000'000;
inline constexpr std::size_t kMaxWords = 256;
inline constexpr std::size_t kMaxWordBytes = 16 * 1024;

// One command line: its words (argv[0] is the command name) and its line number in a batch
// file (0 for a single command), so errors can name the line.
struct CommandLine {
    uint32_t line = 0;
    std::vector<std::string> argv;
    bool operator==(const CommandLine&) const = default;
};

enum class RequestKind : uint8_t { command = 1, batch = 2, monitor = 3 };

struct Request {
    RequestKind kind = RequestKind::command;
    std::vector<CommandLine> lines;
    bool operator==(const Request&) const = default;
};

enum class ResponseStatus : uint8_t { ok = 0, error = 1 };

struct Response {
    ResponseStatus status = ResponseStatus::ok;
    std::string text;
    bool operator==(const Response&) const = default;

    static Response success(std::string text = {}) { return {ResponseStatus::ok, std::move(text)}; }
    static Response failure(std::string line) { return {ResponseStatus::error, std::move(line)}; }
};

// Encoding fails only when the message would exceed the limits above.
Result<std::string> encode_request(const Request& request);
Result<Request> decode_request(std::string_view payload);
std::string encode_response(const Response& response);
Result<Response> decode_response(std::string_view payload);

using Deadline = std::chrono::steady_clock::time_point;
inline Deadline deadline_in(std::chrono::milliseconds d) {
    return std::chrono::steady_clock::now() + d;
}

// Frame I/O on a stream socket; the whole frame must move before the deadline. read_frame gives
// nullopt when the peer closes the connection cleanly before sending anything.
Result<void> write_frame(int fd, std::string_view payload, Deadline deadline);
Result<std::optional<std::string>> read_frame(int fd, std::size_t max_payload, Deadline deadline);

}  // namespace ipsecfs::mountd
