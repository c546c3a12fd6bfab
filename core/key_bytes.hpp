#pragma once
// Key material as typed by the user (`0x…` hex, `0s…` base64, `0t…` text), held in memory
// that is wiped when freed. The packet engine copies keys into locked secure memory of its own.

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ipsecfs {

template <class T>
struct WipingAllocator {
    using value_type = T;
    WipingAllocator() = default;
    template <class U>
    WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        explicit_bzero(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    friend bool operator==(const WipingAllocator&, const WipingAllocator&) { return true; }
};

using KeyBytes = std::vector<uint8_t, WipingAllocator<uint8_t>>;

// FreeS/WAN ttodata: `0x` hex (underscores allowed between digit pairs), `0s` base64, `0t` text.
// `what` names the option in error messages (e.g. "--enckey").
Result<KeyBytes> parse_key(std::string_view text, std::string_view what);

}  // namespace ipsecfs
