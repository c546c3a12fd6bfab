#include "mountd/lib/control_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ipsecfs::mountd {
namespace {

void put_u8(std::string& out, uint8_t v) {
    out.push_back(static_cast<char>(v));
}

void put_u32(std::string& out, uint32_t v) {
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                           static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(bytes, 4);
}

uint32_t get_u32(const unsigned char* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Reads a payload front to back; every read is bounds-checked.
class Reader {
  public:
    explicit Reader(std::string_view data) : data_(data) {}

    std::size_t remaining() const { return data_.size() - pos_; }
    bool u8(uint8_t& v) {
        if (remaining() < 1) return false;
        v = static_cast<uint8_t>(data_[pos_++]);
        return true;
    }
    bool u32(uint32_t& v) {
        if (remaining() < 4) return false;
        v = get_u32(reinterpret_cast<const unsigned char*>(data_.data() + pos_));
        pos_ += 4;
        return true;
    }
    bool bytes(std::size_t n, std::string& out) {
        if (remaining() < n) return false;
        out.assign(data_.substr(pos_, n));
        pos_ += n;
        return true;
    }
    std::string_view rest() {
        std::string_view r = data_.substr(pos_);
        pos_ = data_.size();
        return r;
    }

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

Error truncated() {
    return fail("malformed request: truncated");
}

int remaining_ms(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    return left.count() > 60'000 ? 60'000 : static_cast<int>(left.count());
}

// Waits until fd is ready for `events` or the deadline passes.
Result<void> wait_for(int fd, short events, Deadline deadline) {
    for (;;) {
        int ms = remaining_ms(deadline);
        if (ms == 0) return fail("timed out");
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, ms);
        if (n > 0) return {};
        if (n < 0 && errno != EINTR) return fail(std::strerror(errno));
    }
}

// Fills `buf` completely.
Result<void> read_exact(int fd, char* buf, std::size_t size, Deadline deadline) {
    std::size_t got = 0;
    while (got < size) {
        ssize_t n = ::recv(fd, buf + got, size - got, MSG_DONTWAIT);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        } else if (n == 0) {
            return fail("connection closed by peer");
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (auto r = wait_for(fd, POLLIN, deadline); !r) return r;
        } else if (errno != EINTR) {
            return fail(std::strerror(errno));
        }
    }
    return {};
}

}  // namespace

Result<std::string> encode_request(const Request& request) {
    if (request.lines.size() > kMaxCommandLines)
        return fail("too many command lines (" + std::to_string(request.lines.size()) +
                    ", at most " + std::to_string(kMaxCommandLines) + ")");
    std::string out;
    put_u8(out, kProtocolVersion);
    put_u8(out, static_cast<uint8_t>(request.kind));
    put_u32(out, static_cast<uint32_t>(request.lines.size()));
    for (const CommandLine& line : request.lines) {
        if (line.argv.size() > kMaxWords)
            return fail("line " + std::to_string(line.line) + ": too many words");
        put_u32(out, line.line);
        put_u32(out, static_cast<uint32_t>(line.argv.size()));
        for (const std::string& word : line.argv) {
            if (word.size() > kMaxWordBytes)
                return fail("line " + std::to_string(line.line) + ": a word is longer than " +
                            std::to_string(kMaxWordBytes) + " bytes");
            put_u32(out, static_cast<uint32_t>(word.size()));
            out += word;
        }
        if (out.size() > kMaxRequestBytes)
            return fail("request larger than " + std::to_string(kMaxRequestBytes >> 20) +
                        " MiB; split the batch");
    }
    return out;
}

Result<Request> decode_request(std::string_view payload) {
    Reader in(payload);
    uint8_t version = 0, kind = 0;
    uint32_t count = 0;
    if (!in.u8(version) || !in.u8(kind) || !in.u32(count)) return truncated();
    if (version != kProtocolVersion)
        return fail("unsupported protocol version " + std::to_string(version));
    if (kind != static_cast<uint8_t>(RequestKind::command) &&
        kind != static_cast<uint8_t>(RequestKind::batch) &&
        kind != static_cast<uint8_t>(RequestKind::monitor))
        return fail("malformed request: unknown kind " + std::to_string(kind));
    Request request;
    request.kind = static_cast<RequestKind>(kind);
    // Each line takes at least 8 bytes, so `count` cannot promise more than the payload holds.
    if (count > kMaxCommandLines || count > in.remaining() / 8)
        return fail("malformed request: bad line count");
    if (request.kind == RequestKind::command && count != 1)
        return fail("malformed request: a command request holds one command");
    if (request.kind == RequestKind::monitor && count != 0)
        return fail("malformed request: a monitor request holds no command");
    request.lines.resize(count);
    for (CommandLine& line : request.lines) {
        uint32_t words = 0;
        if (!in.u32(line.line) || !in.u32(words)) return truncated();
        if (words == 0 || words > kMaxWords || words > in.remaining() / 4)
            return fail("malformed request: bad word count");
        line.argv.resize(words);
        for (std::string& word : line.argv) {
            uint32_t length = 0;
            if (!in.u32(length)) return truncated();
            if (length > kMaxWordBytes) return fail("malformed request: word too long");
            if (!in.bytes(length, word)) return truncated();
        }
    }
    if (in.remaining() != 0) return fail("malformed request: trailing bytes");
    return request;
}

std::string encode_response(const Response& response) {
    std::string out;
    out.reserve(2 + response.text.size());
    put_u8(out, kProtocolVersion);
    put_u8(out, static_cast<uint8_t>(response.status));
    out += response.text;
    return out;
}

Result<Response> decode_response(std::string_view payload) {
    Reader in(payload);
    uint8_t version = 0, status = 0;
    if (!in.u8(version) || !in.u8(status)) return fail("malformed response: truncated");
    if (version != kProtocolVersion)
        return fail("unsupported protocol version " + std::to_string(version));
    if (status > static_cast<uint8_t>(ResponseStatus::error))
        return fail("malformed response: unknown status " + std::to_string(status));
    return Response{static_cast<ResponseStatus>(status), std::string(in.rest())};
}

Result<void> write_frame(int fd, std::string_view payload, Deadline deadline) {
    if (payload.size() > UINT32_MAX) return fail("message too large");
    std::string header;
    put_u32(header, static_cast<uint32_t>(payload.size()));
    for (std::string_view part : {std::string_view(header), payload}) {
        while (!part.empty()) {
            ssize_t n = ::send(fd, part.data(), part.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                part.remove_prefix(static_cast<std::size_t>(n));
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (auto r = wait_for(fd, POLLOUT, deadline); !r) return r;
            } else if (errno != EINTR) {
                return fail(std::strerror(errno));
            }
        }
    }
    return {};
}

Result<std::optional<std::string>> read_frame(int fd, std::size_t max_payload, Deadline deadline) {
    unsigned char header[4];
    ssize_t first = 0;
    // Peek once so that a peer that connects and leaves (a liveness probe) is not an error.
    for (;;) {
        first = ::recv(fd, header, 1, MSG_PEEK | MSG_DONTWAIT);
        if (first >= 0) break;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (auto r = wait_for(fd, POLLIN, deadline); !r) return std::move(r).take_error();
        } else if (errno != EINTR) {
            return fail(std::strerror(errno));
        }
    }
    if (first == 0) return std::optional<std::string>();
    if (auto r = read_exact(fd, reinterpret_cast<char*>(header), 4, deadline); !r)
        return std::move(r).take_error();
    uint32_t size = get_u32(header);
    if (size > max_payload)
        return fail("message of " + std::to_string(size) + " bytes exceeds the limit of " +
                    std::to_string(max_payload));
    std::string payload(size, '\0');
    if (auto r = read_exact(fd, payload.data(), size, deadline); !r)
        return std::move(r).take_error();
    return std::optional<std::string>(std::move(payload));
}

}  // namespace ipsecfs::mountd
