package pkcs11

import (
	"context"
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// login logs the user in on sh (and so on every session of the application
// with that token). It asks pin exactly once and never retries: a token locks
// its PIN after a few failures. A token already logged in (by another Signer
// of this process) is not asked for a PIN.
func login(ctx context.Context, c *p11.Ctx, sh p11.SessionHandle, slot uint, pin PINSource) error {
	if si, err := c.GetSessionInfo(sh); err == nil &&
		(si.State == p11.CKS_RO_USER_FUNCTIONS || si.State == p11.CKS_RW_USER_FUNCTIONS) {
		return nil
	}
	raw, err := c.GetTokenInfo(slot)
	if err != nil {
		return fmt.Errorf("pkcs11: %w", wrap("C_GetTokenInfo", err))
	}
	ti := tokenInfo(raw)
	if ti.PINLocked {
		return fmt.Errorf("pkcs11: token %s: %w: unblock it with the SO PIN/PUK (for example with the token vendor's tool)", ti, ErrPINLocked)
	}
	if !ti.UserPINSet {
		return fmt.Errorf("pkcs11: token %s: %w: the user PIN is not initialised", ti, ErrNoPIN)
	}
	if pin == nil {
		return fmt.Errorf("pkcs11: token %s: %w: no PIN source", ti, ErrNoPIN)
	}
	p, err := pin.PIN(ctx, ti)
	if err != nil {
		return fmt.Errorf("pkcs11: token %s: %w", ti, err)
	}
	if len(p) == 0 {
		return fmt.Errorf("pkcs11: token %s: %w: empty PIN", ti, ErrNoPIN)
	}
	if (ti.MinPINLen > 0 && uint(len(p)) < ti.MinPINLen) || (ti.MaxPINLen > 0 && uint(len(p)) > ti.MaxPINLen) {
		// Refused here so that it does not count as a failed try.
		clear(p)
		return fmt.Errorf("pkcs11: token %s: %w: the token takes %d to %d characters", ti, ErrPINLength, ti.MinPINLen, ti.MaxPINLen)
	}
	err = c.Login(sh, p11.CKU_USER, string(p))
	clear(p)
	if err == nil {
		return nil
	}
	werr := wrap("C_Login", err)
	if code, _ := codeOf(err); code == p11.CKR_USER_ALREADY_LOGGED_IN {
		return nil
	}
	switch {
	case errors.Is(werr, ErrPINIncorrect):
		state := ""
		if raw, e := c.GetTokenInfo(slot); e == nil {
			after := tokenInfo(raw)
			if after.PINLocked {
				return fmt.Errorf("pkcs11: token %s: PIN incorrect, and now %w: unblock it with the SO PIN/PUK", ti, ErrPINLocked)
			}
			state = after.pinState()
		}
		if state != "" {
			return fmt.Errorf("pkcs11: token %s: %w (%s); not retried, check the PIN before trying again", ti, werr, state)
		}
		return fmt.Errorf("pkcs11: token %s: %w; not retried, check the PIN before trying again", ti, werr)
	case errors.Is(werr, ErrPINLocked):
		return fmt.Errorf("pkcs11: token %s: %w; unblock it with the SO PIN/PUK", ti, werr)
	}
	return fmt.Errorf("pkcs11: token %s: %w", ti, werr)
}
