// The few libcrypto (OpenSSL 3) functions osslrsa calls, resolved at run
// time with dlopen so that building needs no OpenSSL headers and a
// machine without libcrypto.so.3 falls back to crypto/rsa.
#include <stddef.h>

int osslrsa_load(char *why, size_t whylen);
void *osslrsa_key(const unsigned char *der, long len);
void osslrsa_free(void *pkey);
int osslrsa_sign(void *pkey, int md, const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen);
