#include "netpath/crypto/secure_key.hpp"

#include <sodium.h>

#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ipsecfs::crypto {
namespace {

// Every sodium_malloc is its own mapping with guard pages, and a process may hold only
// vm.max_map_count (65530) mappings: one allocation per key would stop near 17,000 SAs. Keys
// therefore come from a few large locked, guarded regions cut into fixed slots (keys and salts,
// HMAC keys, expanded AES-GCM keys); a freed slot is zeroed and reused. Allocation happens on the
// control plane, frees wherever the last reference to an SA goes, so one mutex is enough.
class KeyArena {
  public:
    static constexpr std::size_t kSmallSlot = 64;
    static constexpr std::size_t kMediumSlot = 512;
    static constexpr std::size_t kLargeSlot = 1536;
    static constexpr std::size_t kRegionBytes = 256 * 1024;

    static KeyArena& instance() {
        static KeyArena arena;
        return arena;
    }

    uint8_t* allocate(std::size_t n) {
        if (n > kLargeSlot) return static_cast<uint8_t*>(sodium_malloc(n));
        Slab& slab = slab_for(n);
        std::lock_guard lock(mutex_);
        if (slab.free.empty()) {
            auto* region = static_cast<uint8_t*>(sodium_malloc(kRegionBytes));
            if (region == nullptr) return nullptr;
            for (std::size_t off = 0; off + slab.slot <= kRegionBytes; off += slab.slot) {
                slab.free.push_back(region + off);
            }
        }
        uint8_t* p = slab.free.back();
        slab.free.pop_back();
        return p;
    }

    void release(uint8_t* p, std::size_t n) noexcept {
        if (n > kLargeSlot) {
            sodium_free(p);
            return;
        }
        Slab& slab = slab_for(n);
        sodium_memzero(p, slab.slot);
        std::lock_guard lock(mutex_);
        slab.free.push_back(p);
    }

  private:
    struct Slab {
        std::size_t slot;
        std::vector<uint8_t*> free;
    };
    Slab& slab_for(std::size_t n) noexcept {
        if (n <= kSmallSlot) return small_;
        return n <= kMediumSlot ? medium_ : large_;
    }

    std::mutex mutex_;
    Slab small_{kSmallSlot, {}};
    Slab medium_{kMediumSlot, {}};
    Slab large_{kLargeSlot, {}};
};

}  // namespace

bool init() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

SecureKey::~SecureKey() {
    release();
}

SecureKey::SecureKey(SecureKey&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureKey& SecureKey::operator=(SecureKey&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

void SecureKey::release() noexcept {
    if (data_ != nullptr) KeyArena::instance().release(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

Result<SecureKey> SecureKey::allocate(std::size_t n) {
    if (!init()) return fail("libsodium failed to initialise");
    SecureKey key;
    if (n == 0) return key;
    key.data_ = KeyArena::instance().allocate(n);
    if (key.data_ == nullptr) {
        return fail("cannot allocate " + std::to_string(n) + " bytes of locked key memory");
    }
    key.size_ = n;
    sodium_memzero(key.data_, n);
    return key;
}

Result<SecureKey> SecureKey::copy_of(std::span<const uint8_t> bytes) {
    auto key = allocate(bytes.size());
    if (key && !bytes.empty()) std::memcpy(key->data(), bytes.data(), bytes.size());
    return key;
}

bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ipsecfs::crypto
