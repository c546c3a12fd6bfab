#include "netpath/crypto/secure_key.hpp"

#include <sodium.h>

#include <cstring>
#include <string>
#include <utility>

namespace ipsecfs::crypto {

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
    if (data_ != nullptr) sodium_free(data_);
    data_ = nullptr;
    size_ = 0;
}

Result<SecureKey> SecureKey::allocate(std::size_t n) {
    if (!init()) return fail("libsodium failed to initialise");
    SecureKey key;
    if (n == 0) return key;
    key.data_ = static_cast<uint8_t*>(sodium_malloc(n));
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
