package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// Sentinel errors. Every error this package returns wraps at most one of
// these, so callers can test them with errors.Is.
var (
	// ErrModuleNotFound: no PKCS#11 module at the given path, or none of the
	// usual ones is installed.
	ErrModuleNotFound = errors.New("PKCS#11 module not found")
	// ErrModuleLoad: the module file exists but could not be loaded or
	// initialised.
	ErrModuleLoad = errors.New("PKCS#11 module could not be loaded")
	// ErrTokenNotFound: no token matches the label/serial asked for.
	ErrTokenNotFound = errors.New("token not found")
	// ErrTokenNotPresent: the slot has no token (CKR_TOKEN_NOT_PRESENT).
	ErrTokenNotPresent = errors.New("token not present")
	// ErrDeviceRemoved: the token was removed during the operation
	// (CKR_DEVICE_REMOVED).
	ErrDeviceRemoved = errors.New("token removed")
	// ErrAmbiguous: more than one token or key matches; say which one.
	ErrAmbiguous = errors.New("more than one match")
	// ErrKeyNotFound: no private key matches the key label/id, or the token
	// holds no signing key.
	ErrKeyNotFound = errors.New("key not found")
	// ErrCertificateNotFound: the key has no certificate with the same
	// CKA_ID on the token and none was given.
	ErrCertificateNotFound = errors.New("certificate not found")
	// ErrPINIncorrect: the token refused the PIN (CKR_PIN_INCORRECT).
	ErrPINIncorrect = errors.New("PIN incorrect")
	// ErrPINLocked: the user PIN is locked (CKR_PIN_LOCKED or the token's
	// CKF_USER_PIN_LOCKED flag); it must be unblocked with the SO PIN/PUK.
	ErrPINLocked = errors.New("PIN locked")
	// ErrPINLength: the PIN is too short or too long for the token
	// (CKR_PIN_LEN_RANGE).
	ErrPINLength = errors.New("PIN length out of range")
	// ErrNoPIN: the PIN source gave nothing (empty file or variable, no
	// terminal to prompt on).
	ErrNoPIN = errors.New("no PIN available")
	// ErrSessionClosed: the session was closed under us
	// (CKR_SESSION_CLOSED, CKR_SESSION_HANDLE_INVALID); the Signer recovers
	// from it by itself.
	ErrSessionClosed = errors.New("session closed")
	// ErrNotLoggedIn: the operation needs a login (CKR_USER_NOT_LOGGED_IN).
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrUnsupported: a key type, hash or mechanism this package or the
	// token does not support.
	ErrUnsupported = errors.New("unsupported")
	// ErrClosed: the Module or Signer was closed.
	ErrClosed = errors.New("closed")
)

// Error is a failed PKCS#11 call: the function, the CKR_ code and, when the
// code has one, the sentinel it maps to.
type Error struct {
	Op   string // e.g. "C_Login"
	Code uint   // CKR_ value
	kind error  // sentinel, may be nil
}

func (e *Error) Error() string {
	name := ckrName(e.Code)
	if e.kind != nil {
		return fmt.Sprintf("%s: %v (%s)", e.Op, e.kind, name)
	}
	return fmt.Sprintf("%s failed: %s", e.Op, name)
}

// Unwrap exposes the sentinel and the underlying pkcs11.Error.
func (e *Error) Unwrap() []error {
	if e.kind != nil {
		return []error{e.kind, p11.Error(e.Code)}
	}
	return []error{p11.Error(e.Code)}
}

// ckrName is the CKR_ constant's name, or its hex value.
func ckrName(code uint) string {
	s := p11.Error(code).Error() // "pkcs11: 0xA0: CKR_PIN_INCORRECT"
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ' ' {
			if n := s[i+1:]; len(n) > 4 && n[:4] == "CKR_" {
				return n
			}
			break
		}
	}
	return fmt.Sprintf("CKR 0x%X", code)
}

// kindOf maps a CKR_ code to its sentinel.
func kindOf(code uint) error {
	switch code {
	case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID:
		return ErrPINIncorrect
	case p11.CKR_PIN_LOCKED:
		return ErrPINLocked
	case p11.CKR_PIN_LEN_RANGE:
		return ErrPINLength
	case p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_TOKEN_NOT_RECOGNIZED, p11.CKR_SLOT_ID_INVALID:
		return ErrTokenNotPresent
	case p11.CKR_DEVICE_REMOVED:
		return ErrDeviceRemoved
	case p11.CKR_SESSION_CLOSED, p11.CKR_SESSION_HANDLE_INVALID:
		return ErrSessionClosed
	case p11.CKR_USER_NOT_LOGGED_IN:
		return ErrNotLoggedIn
	case p11.CKR_MECHANISM_INVALID, p11.CKR_MECHANISM_PARAM_INVALID, p11.CKR_KEY_TYPE_INCONSISTENT,
		p11.CKR_KEY_FUNCTION_NOT_PERMITTED, p11.CKR_FUNCTION_NOT_SUPPORTED:
		return ErrUnsupported
	case p11.CKR_CRYPTOKI_NOT_INITIALIZED:
		return ErrClosed
	}
	return nil
}

// wrap turns an error returned by github.com/miekg/pkcs11 into an *Error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe p11.Error
	if errors.As(err, &pe) {
		return &Error{Op: op, Code: uint(pe), kind: kindOf(uint(pe))}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// codeOf returns the CKR_ code carried by err, if any.
func codeOf(err error) (uint, bool) {
	var pe p11.Error
	if errors.As(err, &pe) {
		return uint(pe), true
	}
	return 0, false
}

// recoverable tells whether err means the session, login or token went away
// so that re-opening sessions (and logging in again) may help.
func recoverable(err error) bool {
	code, ok := codeOf(err)
	if !ok {
		return false
	}
	switch code {
	case p11.CKR_SESSION_CLOSED, p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_USER_NOT_LOGGED_IN,
		p11.CKR_OBJECT_HANDLE_INVALID, p11.CKR_KEY_HANDLE_INVALID, p11.CKR_TOKEN_NOT_PRESENT,
		p11.CKR_DEVICE_REMOVED, p11.CKR_SLOT_ID_INVALID, p11.CKR_TOKEN_NOT_RECOGNIZED:
		return true
	}
	return false
}
