#ifndef CLOISTER_COPENSSL_SHIM_H
#define CLOISTER_COPENSSL_SHIM_H

/* OpenSSL 3 APIs only: anything deprecated fails to compile. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* Macros and type-generic stack helpers that Swift cannot import. */

static inline void cloister_OPENSSL_free(void *ptr) { OPENSSL_free(ptr); }

static inline long cloister_BIO_get_mem_data(BIO *bio, char **out) { return BIO_get_mem_data(bio, out); }

static inline STACK_OF(X509) *cloister_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int cloister_sk_X509_push(STACK_OF(X509) *stack, X509 *cert) { return sk_X509_push(stack, cert); }
static inline int cloister_sk_X509_num(const STACK_OF(X509) *stack) { return sk_X509_num(stack); }
static inline X509 *cloister_sk_X509_value(const STACK_OF(X509) *stack, int index) { return sk_X509_value(stack, index); }
static inline void cloister_sk_X509_free(STACK_OF(X509) *stack) { sk_X509_free(stack); }
static inline void cloister_sk_X509_pop_free(STACK_OF(X509) *stack) { sk_X509_pop_free(stack, X509_free); }

static inline STACK_OF(X509_CRL) *cloister_sk_X509_CRL_new_null(void) { return sk_X509_CRL_new_null(); }
static inline int cloister_sk_X509_CRL_push(STACK_OF(X509_CRL) *stack, X509_CRL *crl) {
    return sk_X509_CRL_push(stack, crl);
}
static inline void cloister_sk_X509_CRL_free(STACK_OF(X509_CRL) *stack) { sk_X509_CRL_free(stack); }

static inline int cloister_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *stack) {
    return sk_X509_REVOKED_num(stack);
}
static inline X509_REVOKED *cloister_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *stack, int index) {
    return sk_X509_REVOKED_value(stack, index);
}

static inline int cloister_sk_X509_EXTENSION_num(const STACK_OF(X509_EXTENSION) *stack) {
    return sk_X509_EXTENSION_num(stack);
}
static inline X509_EXTENSION *cloister_sk_X509_EXTENSION_value(const STACK_OF(X509_EXTENSION) *stack, int index) {
    return sk_X509_EXTENSION_value(stack, index);
}

static inline int cloister_sk_GENERAL_NAME_num(const STACK_OF(GENERAL_NAME) *stack) {
    return sk_GENERAL_NAME_num(stack);
}
static inline GENERAL_NAME *cloister_sk_GENERAL_NAME_value(const STACK_OF(GENERAL_NAME) *stack, int index) {
    return sk_GENERAL_NAME_value(stack, index);
}

#endif
