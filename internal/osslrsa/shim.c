#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "shim.h"

// Opaque OpenSSL types: only pointers cross this file.
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_md_st EVP_MD;

#define OSSL_EVP_PKEY_RSA 6
#define OSSL_RSA_PKCS1_PADDING 1

static EVP_PKEY *(*p_d2i_PrivateKey)(int, EVP_PKEY **, const unsigned char **, long);
static void (*p_EVP_PKEY_free)(EVP_PKEY *);
static EVP_PKEY_CTX *(*p_EVP_PKEY_CTX_new)(EVP_PKEY *, void *);
static void (*p_EVP_PKEY_CTX_free)(EVP_PKEY_CTX *);
static int (*p_EVP_PKEY_sign_init)(EVP_PKEY_CTX *);
static int (*p_EVP_PKEY_CTX_set_rsa_padding)(EVP_PKEY_CTX *, int);
static int (*p_EVP_PKEY_CTX_set_signature_md)(EVP_PKEY_CTX *, const EVP_MD *);
static int (*p_EVP_PKEY_sign)(EVP_PKEY_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);
static const EVP_MD *(*p_EVP_get_digestbyname)(const char *);
static unsigned long (*p_OpenSSL_version_num)(void);
static void (*p_ERR_clear_error)(void);

// The digests, by the index osslrsa_sign takes (see osslrsa.go).
static const char *md_names[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512"};
#define N_MD (sizeof md_names / sizeof md_names[0])
static const EVP_MD *mds[N_MD];

#define SYM(name) do { \
	*(void **)(&p_##name) = dlsym(h, #name); \
	if (p_##name == NULL) { snprintf(why, whylen, "libcrypto.so.3 has no %s", #name); return 0; } \
} while (0)

// osslrsa_load opens libcrypto.so.3 and resolves what is used: 1 on
// success, else 0 with the reason in why. Called once (sync.Once).
int osslrsa_load(char *why, size_t whylen) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(why, whylen, "%s", e ? e : "dlopen libcrypto.so.3 failed");
		return 0;
	}
	SYM(OpenSSL_version_num);
	if (p_OpenSSL_version_num() < 0x30000000UL) {
		snprintf(why, whylen, "libcrypto is older than OpenSSL 3.0 (0x%lx)", p_OpenSSL_version_num());
		return 0;
	}
	SYM(d2i_PrivateKey);
	SYM(EVP_PKEY_free);
	SYM(EVP_PKEY_CTX_new);
	SYM(EVP_PKEY_CTX_free);
	SYM(EVP_PKEY_sign_init);
	SYM(EVP_PKEY_CTX_set_rsa_padding);
	SYM(EVP_PKEY_CTX_set_signature_md);
	SYM(EVP_PKEY_sign);
	SYM(EVP_get_digestbyname);
	SYM(ERR_clear_error);
	for (size_t i = 0; i < N_MD; i++) {
		mds[i] = p_EVP_get_digestbyname(md_names[i]);
		if (mds[i] == NULL) {
			snprintf(why, whylen, "libcrypto has no digest %s", md_names[i]);
			return 0;
		}
	}
	return 1;
}

// osslrsa_key reads a PKCS#1 RSAPrivateKey; NULL if libcrypto refuses it.
void *osslrsa_key(const unsigned char *der, long len) {
	const unsigned char *p = der;
	EVP_PKEY *k = p_d2i_PrivateKey(OSSL_EVP_PKEY_RSA, NULL, &p, len);
	if (k == NULL || p != der + len) {
		if (k != NULL) p_EVP_PKEY_free(k);
		p_ERR_clear_error();
		return NULL;
	}
	return k;
}

void osslrsa_free(void *pkey) { p_EVP_PKEY_free((EVP_PKEY *)pkey); }

// osslrsa_sign makes a PKCS#1 v1.5 signature of digest (hashed with
// mds[md]) into sig (*siglen bytes; set to the signature's length): 1 on
// success. The error queue is thread-local and is left empty.
int osslrsa_sign(void *pkey, int md, const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen) {
	if (md < 0 || (size_t)md >= N_MD) return 0;
	EVP_PKEY_CTX *ctx = p_EVP_PKEY_CTX_new((EVP_PKEY *)pkey, NULL);
	int ok = ctx != NULL &&
		p_EVP_PKEY_sign_init(ctx) > 0 &&
		p_EVP_PKEY_CTX_set_rsa_padding(ctx, OSSL_RSA_PKCS1_PADDING) > 0 &&
		p_EVP_PKEY_CTX_set_signature_md(ctx, mds[md]) > 0 &&
		p_EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) > 0;
	if (ctx != NULL) p_EVP_PKEY_CTX_free(ctx);
	if (!ok) p_ERR_clear_error();
	return ok;
}
