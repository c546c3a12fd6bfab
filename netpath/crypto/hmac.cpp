#include "netpath/crypto/hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <array>
#include <cstring>
#include <string>

namespace ipsecfs::crypto {
namespace {

struct HmacSuite {
    const char* digest;
    const char* name;
    std::size_t digest_bytes;
    std::size_t icv_bytes;
};

constexpr HmacSuite suite_of(AuthAlg alg) {
    switch (alg) {
        case AuthAlg::hmac_md5_96:
            return {"MD5", "HMAC-MD5-96", 16, 12};
        case AuthAlg::hmac_sha1_96:
            return {"SHA1", "HMAC-SHA1-96", 20, 12};
        case AuthAlg::hmac_sha256_128:
            return {"SHA2-256", "HMAC-SHA2-256-128", 32, 16};
        case AuthAlg::none:
            break;
    }
    return {nullptr, "none", 0, 0};
}

constexpr std::size_t kMaxDigestBytes = 64;

}  // namespace

bool Hmac::reset() noexcept {
    return EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) == 1;
}

bool Hmac::update(std::span<const uint8_t> data) noexcept {
    if (data.empty()) return true;
    return EVP_MAC_update(ctx_.get(), data.data(), data.size()) == 1;
}

bool Hmac::final(std::span<uint8_t> truncated_out) noexcept {
    if (truncated_out.size() > digest_bytes_) return false;
    std::array<uint8_t, kMaxDigestBytes> full{};
    std::size_t written = 0;
    if (EVP_MAC_final(ctx_.get(), full.data(), &written, full.size()) != 1 ||
        written != digest_bytes_) {
        return false;
    }
    if (!truncated_out.empty())
        std::memcpy(truncated_out.data(), full.data(), truncated_out.size());
    OPENSSL_cleanse(full.data(), full.size());
    return true;
}

std::size_t hmac_key_bytes(AuthAlg alg) noexcept {
    return suite_of(alg).digest_bytes;
}

Result<Hmac> make_hmac(AuthAlg alg, std::span<const uint8_t> key) {
    const HmacSuite suite = suite_of(alg);
    if (suite.digest == nullptr) return fail("no HMAC algorithm given");
    if (key.size() != suite.digest_bytes) {
        return fail(std::string(suite.name) + " needs a " + std::to_string(suite.digest_bytes) +
                    "-byte authentication key, got " + std::to_string(key.size()));
    }
    return make_hmac_unchecked(alg, key);
}

Result<Hmac> make_hmac_unchecked(AuthAlg alg, std::span<const uint8_t> key) {
    const HmacSuite suite = suite_of(alg);
    if (suite.digest == nullptr) return fail("no HMAC algorithm given");
    if (key.empty()) return fail(std::string(suite.name) + " needs a non-empty key");
    EvpMacPtr mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
    if (!mac) return fail("OpenSSL has no HMAC");
    EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) return fail("cannot allocate an HMAC context");
    const std::array params = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(suite.digest), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params.data()) != 1) {
        return fail(std::string("OpenSSL cannot key ") + suite.name);
    }
    return Hmac(alg, std::move(ctx), suite.icv_bytes, suite.digest_bytes);
}

}  // namespace ipsecfs::crypto
