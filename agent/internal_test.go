package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/pkcs11"
)

// TestTokenProblem maps every token failure to a stable problem type,
// including those SoftHSM cannot be made to produce (a locked PIN, a
// removed token).
func TestTokenProblem(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		typ    string
	}{
		{pkcs11.ErrPINIncorrect, http.StatusForbidden, wire.ProblemPINIncorrect},
		{pkcs11.ErrPINLocked, http.StatusLocked, wire.ProblemPINLocked},
		{pkcs11.ErrPINLength, http.StatusUnprocessableEntity, wire.ProblemPINLength},
		{pkcs11.ErrNoPIN, http.StatusUnprocessableEntity, wire.ProblemPINLength},
		{pkcs11.ErrTokenNotPresent, http.StatusServiceUnavailable, wire.ProblemToken},
		{pkcs11.ErrTokenNotFound, http.StatusServiceUnavailable, wire.ProblemToken},
		{pkcs11.ErrDeviceRemoved, http.StatusServiceUnavailable, wire.ProblemToken},
		{pkcs11.ErrKeyNotFound, http.StatusNotFound, wire.ProblemUnknownCert},
		{pkcs11.ErrUnsupported, http.StatusBadRequest, wire.ProblemBadRequest},
		{context.Canceled, http.StatusServiceUnavailable, wire.ProblemToken},
		{errors.New("CKR_GENERAL_ERROR"), http.StatusInternalServerError, wire.ProblemSign},
	} {
		// A locked PIN reported after a wrong one wraps both: locked wins.
		p := tokenProblem(fmt.Errorf("pkcs11: token \"x\": %w", c.err))
		if p.status != c.status || p.typ != c.typ {
			t.Errorf("%v: %d %s, want %d %s", c.err, p.status, p.typ, c.status, c.typ)
		}
	}
	p := tokenProblem(fmt.Errorf("%w, and now %w", pkcs11.ErrPINIncorrect, pkcs11.ErrPINLocked))
	if p.typ != wire.ProblemPINLocked {
		t.Errorf("wrong PIN that locked the token: %s", p.typ)
	}
}

func TestSanitize(t *testing.T) {
	if got := sanitize("a\x1b[2Jb\u202ec", 100); got != "a\uFFFD[2Jb\uFFFDc" {
		t.Errorf("sanitize: %q", got)
	}
	if got := sanitize("abcdef", 3); got != "abc…" {
		t.Errorf("sanitize cut: %q", got)
	}
}
