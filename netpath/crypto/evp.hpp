#pragma once
// unique_ptr owners for the OpenSSL objects the ciphers keep. Freeing a context also cleanses
// the key schedule inside it.

#include <openssl/evp.h>

#include <memory>

namespace ipsecfs::crypto {

struct EvpCipherCtxFree {
    void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
};
struct EvpCipherFree {
    void operator()(EVP_CIPHER* p) const noexcept { EVP_CIPHER_free(p); }
};
struct EvpMacFree {
    void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
};
struct EvpMacCtxFree {
    void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};

using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxFree>;
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, EvpCipherFree>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, EvpMacFree>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, EvpMacCtxFree>;

}  // namespace ipsecfs::crypto
