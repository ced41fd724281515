//go:build !(js && wasm)

// PKCS#12 bundles: left out of the in-browser verifier (GOOS=js), which
// reads certificates only.

package keyfile

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"software.sslmate.com/src/go-pkcs12"
)

// LoadP12 reads a PKCS#12 file.
func LoadP12(path string, password []byte) (*Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, cert, cas, err := DecodeP12(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("%w (%s)", ErrWrongPassword, path)
		}
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keyfile: %s: the key (%T) cannot sign", path, key)
	}
	return &Bundle{Key: signer, Cert: cert, Chain: orderChain(cert, cas)}, nil
}

// DecodeP12 decodes a PKCS#12 bundle. go-pkcs12 takes the password as a
// string; converting would leave an immutable copy of it in memory for the
// garbage collector to free some day. The string handed over here shares a
// private copy of the bytes instead, which is cleared when the call returns
// (go-pkcs12 keeps no reference to it: it encodes it to BMPString at once).
func DecodeP12(data, password []byte) (key any, cert *x509.Certificate, cas []*x509.Certificate, err error) {
	if len(password) == 0 {
		return pkcs12.DecodeChain(data, "")
	}
	buf := bytes.Clone(password)
	defer clear(buf)
	return pkcs12.DecodeChain(data, unsafe.String(&buf[0], len(buf)))
}
