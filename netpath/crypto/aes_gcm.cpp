#include "netpath/crypto/aes_gcm.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "netpath/crypto/aes_gcm_avx512.hpp"

namespace ipsecfs::crypto {
namespace {

const char* gcm_name(std::size_t key_bytes) {
    switch (key_bytes) {
        case 16:
            return "AES-128-GCM";
        case 24:
            return "AES-192-GCM";
        case 32:
            return "AES-256-GCM";
        default:
            return nullptr;
    }
}

bool fits_int(std::size_t n) {
    return n <= static_cast<std::size_t>(INT_MAX);
}

bool openssl_requested() {
    const char* env = std::getenv("IPSECFS_AES_GCM");
    return env != nullptr && std::string_view(env) == "openssl";
}

}  // namespace

Result<AesGcm> AesGcm::create_openssl(std::span<const uint8_t> key) {
    const char* name = gcm_name(key.size());
    if (name == nullptr) {
        return fail("AES-GCM needs a 16-, 24- or 32-byte key, got " + std::to_string(key.size()));
    }
    EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, name, nullptr));
    if (!cipher) return fail(std::string("OpenSSL has no ") + name);
    // One context for both directions: GCM only ever runs AES forwards, and each message's init
    // (nonce only) says which way it goes. Half the memory of two per SA.
    EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return fail("cannot allocate an AES-GCM context");
    if (EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data(), nullptr, nullptr) != 1) {
        return fail(std::string("OpenSSL cannot key ") + name);
    }
    return AesGcm(std::move(ctx));
}

Result<AesGcm> AesGcm::create(std::span<const uint8_t> key) {
    const bool fast =
        (key.size() == 16 || key.size() == 32) && avx512_gcm::available() && !openssl_requested();
    return create(key, fast ? GcmBackend::avx512 : GcmBackend::openssl);
}

Result<AesGcm> AesGcm::create(std::span<const uint8_t> key, GcmBackend backend) {
    if (backend == GcmBackend::openssl) return create_openssl(key);
    if (!avx512_gcm::available()) return fail("this CPU cannot run the AVX-512 AES-GCM code");
    auto expanded = SecureKey::allocate(avx512_gcm::kStateBytes);
    if (!expanded) return std::move(expanded).take_error();
    if (!avx512_gcm::expand_key(key, expanded->bytes().first<avx512_gcm::kStateBytes>())) {
        return fail("the AVX-512 AES-GCM code needs a 16- or 32-byte key, got " +
                    std::to_string(key.size()));
    }
    return AesGcm(std::move(*expanded));
}

bool AesGcm::seal(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
                  std::span<uint8_t> data, std::span<uint8_t, kTagBytes> tag) noexcept {
    if (!expanded_.empty()) {
        return avx512_gcm::seal(std::as_const(expanded_).bytes().first<avx512_gcm::kStateBytes>(),
                                nonce, aad, data, tag);
    }
    if (!fits_int(aad.size()) || !fits_int(data.size())) return false;
    EVP_CIPHER_CTX* ctx = ctx_.get();
    int len = 0;
    if (EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) != 1) return false;
    if (!aad.empty() &&
        EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
        return false;
    }
    if (!data.empty() && EVP_EncryptUpdate(ctx, data.data(), &len, data.data(),
                                           static_cast<int>(data.size())) != 1) {
        return false;
    }
    std::array<uint8_t, 16> none{};
    if (EVP_EncryptFinal_ex(ctx, none.data(), &len) != 1 || len != 0) return false;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagBytes),
                               tag.data()) == 1;
}

bool AesGcm::open(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
                  std::span<uint8_t> data, std::span<const uint8_t, kTagBytes> tag) noexcept {
    if (!expanded_.empty()) {
        const bool ok =
            avx512_gcm::open(std::as_const(expanded_).bytes().first<avx512_gcm::kStateBytes>(),
                             nonce, aad, data, tag);
        if (!ok && !data.empty()) OPENSSL_cleanse(data.data(), data.size());
        return ok;
    }
    if (!fits_int(aad.size()) || !fits_int(data.size())) return false;
    EVP_CIPHER_CTX* ctx = ctx_.get();
    std::array<uint8_t, kTagBytes> expected{};
    std::copy(tag.begin(), tag.end(), expected.begin());
    int len = 0;
    bool ok = EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagBytes),
                                  expected.data()) == 1;
    if (ok && !aad.empty()) {
        ok = EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
    }
    if (ok && !data.empty()) {
        ok = EVP_DecryptUpdate(ctx, data.data(), &len, data.data(),
                               static_cast<int>(data.size())) == 1;
    }
    std::array<uint8_t, 16> none{};
    // OpenSSL compares the tag in constant time (CRYPTO_memcmp) here.
    ok = ok && EVP_DecryptFinal_ex(ctx, none.data(), &len) == 1 && len == 0;
    if (!ok && !data.empty()) OPENSSL_cleanse(data.data(), data.size());
    return ok;
}

}  // namespace ipsecfs::crypto
