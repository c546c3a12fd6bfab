#pragma once
// What one open() of a file rendered. Every read of that open is served from it, so a reader
// that needs many read() calls still sees one consistent text, never a cut or mixed line.

#include <cstdint>
#include <string>
#include <string_view>

namespace ipsecfs::fs {

class RenderedFile {
  public:
    explicit RenderedFile(std::string text) : text_(std::move(text)) {}

    // Up to `size` bytes from `offset`; empty at and past the end.
    std::string_view slice(uint64_t offset, std::size_t size) const {
        if (offset >= text_.size()) return {};
        return std::string_view(text_).substr(static_cast<std::size_t>(offset), size);
    }
    std::size_t size() const { return text_.size(); }

  private:
    std::string text_;
};

}  // namespace ipsecfs::fs
