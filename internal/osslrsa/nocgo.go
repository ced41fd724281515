//go:build !cgo

package osslrsa

import (
	"crypto"
	"errors"
)

// Available reports whether libcrypto can be used: never without cgo.
func Available() (bool, string) { return false, "built without cgo" }

// Wrap returns key itself: without cgo every signature is crypto/rsa's.
func Wrap(key crypto.Signer) crypto.Signer { return key }

// ErrUnsupported is returned by New for a key it leaves to Go.
var ErrUnsupported = errors.New("osslrsa: not an RSA key libcrypto can hold")

// Key is never made without cgo.
type Key struct{ crypto.Signer }

// New says that libcrypto is not used without cgo.
func New(crypto.Signer) (*Key, error) {
	return nil, errors.New("osslrsa: libcrypto not used: built without cgo")
}
