package mpower

import (
	"bytes"
	"context"
	"fmt"

	"github.com/semnat/semnat/pades"
)

// PadesVerifier verifies acts as PAdES signatures (pades.Verify): every
// signature must pass (chain to Options.Roots, revocation, integrity,
// no forbidden changes); the act's signer is the newest signature's, its
// time the best proven signing time.
type PadesVerifier struct {
	Options pades.VerifyOptions
}

// VerifyAct implements ActVerifier.
func (v *PadesVerifier) VerifyAct(ctx context.Context, pdf []byte) (*Act, error) {
	opts := v.Options
	rep, err := pades.Verify(ctx, bytes.NewReader(pdf), int64(len(pdf)), &opts)
	if err != nil {
		return nil, fmt.Errorf("%w: the act is not a readable PDF: %v", ErrInvalid, err)
	}
	if len(rep.Signatures) == 0 {
		return nil, fmt.Errorf("%w: the act bears no signature", ErrInvalid)
	}
	for i, s := range rep.Signatures {
		if s.Indication != pades.TotalPassed {
			why := string(s.SubIndication)
			if len(s.Reasons) > 0 {
				why = s.Reasons[0]
			}
			return nil, fmt.Errorf("%w: signature %d of the act does not verify: %s (%s)", ErrInvalid, i+1, s.Indication, why)
		}
	}
	last := rep.Signatures[len(rep.Signatures)-1]
	if !last.CoversWholeDoc {
		return nil, fmt.Errorf("%w: the act was changed after its last signature", ErrInvalid)
	}
	act := &Act{SignedAt: last.BestSignatureTime}
	if last.Signer != nil {
		act.Signer = last.Signer.IDNP
	}
	return act, nil
}
