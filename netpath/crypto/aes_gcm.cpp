#include "netpath/crypto/aes_gcm.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "netpath/crypto/aes_gcm_avx512.hpp"
#include "netpath/crypto/aes_gcm_vaes256.hpp"

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

static_assert(avx512_gcm::kStateBytes == vaes256_gcm::kStateBytes);
constexpr std::size_t kExpandedBytes = avx512_gcm::kStateBytes;

bool runs_here(GcmBackend b) {
    switch (b) {
        case GcmBackend::openssl:
            return true;
        case GcmBackend::avx512:
            return avx512_gcm::available();
        case GcmBackend::vaes256:
            return vaes256_gcm::available();
    }
    return false;
}

// The backend IPSECFS_AES_GCM names, if any.
std::optional<GcmBackend> requested_backend() {
    const char* env = std::getenv("IPSECFS_AES_GCM");
    if (env == nullptr) return std::nullopt;
    if (std::string_view(env) == "openssl") return GcmBackend::openssl;
    if (std::string_view(env) == "vaes256") return GcmBackend::vaes256;
    return std::nullopt;
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
    if (key.size() != 16 && key.size() != 32) return create_openssl(key);
    const std::optional<GcmBackend> wanted = requested_backend();
    if (wanted && runs_here(*wanted)) return create(key, *wanted);
    for (const GcmBackend b : {GcmBackend::avx512, GcmBackend::vaes256}) {
        if (runs_here(b)) return create(key, b);
    }
    return create_openssl(key);
}

Result<AesGcm> AesGcm::create(std::span<const uint8_t> key, GcmBackend backend) {
    if (backend == GcmBackend::openssl) return create_openssl(key);
    const char* name = backend == GcmBackend::avx512 ? "AVX-512" : "VAES (256-bit)";
    if (!runs_here(backend))
        return fail(std::string("this CPU cannot run the ") + name + " AES-GCM code");
    auto expanded = SecureKey::allocate(kExpandedBytes);
    if (!expanded) return std::move(expanded).take_error();
    const std::span<uint8_t, kExpandedBytes> state = expanded->bytes().first<kExpandedBytes>();
    const bool keyed = backend == GcmBackend::avx512 ? avx512_gcm::expand_key(key, state)
                                                     : vaes256_gcm::expand_key(key, state);
    if (!keyed) {
        return fail(std::string("the ") + name + " AES-GCM code needs a 16- or 32-byte key, got " +
                    std::to_string(key.size()));
    }
    return AesGcm(backend, std::move(*expanded));
}

bool AesGcm::seal(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
                  std::span<uint8_t> data, std::span<uint8_t, kTagBytes> tag) noexcept {
    if (backend_ != GcmBackend::openssl) {
        const auto state = std::as_const(expanded_).bytes().first<kExpandedBytes>();
        return backend_ == GcmBackend::avx512 ? avx512_gcm::seal(state, nonce, aad, data, tag)
                                              : vaes256_gcm::seal(state, nonce, aad, data, tag);
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
    if (backend_ != GcmBackend::openssl) {
        const auto state = std::as_const(expanded_).bytes().first<kExpandedBytes>();
        const bool ok = backend_ == GcmBackend::avx512
                            ? avx512_gcm::open(state, nonce, aad, data, tag)
                            : vaes256_gcm::open(state, nonce, aad, data, tag);
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
