package mpower

import (
	"bytes"
	"context"
	"fmt"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/pdf"
)

// PadesVerifier verifies acts as PAdES signatures (pades.Verify): every
// signature must pass (chain to Options.Roots, revocation, integrity,
// no forbidden changes). The act's signature is the one over the first
// revision after the base document, and that revision must be the
// signature's own update, directly on the base (the extension rule below);
// the act's signer and time are that signature's.
type PadesVerifier struct {
	Options pades.VerifyOptions
}

// VerifyAct implements ActVerifier.
//
// The extension rule: signed is base, byte for byte, followed by one
// incremental update that a new signature covers, chained to base's last
// cross-reference section (/Prev) and starting right after base (only a
// line end between). Later revisions may follow if the verifier allows
// them (a DSS, a document timestamp). An unsigned update placed between
// base and the signature (it would be covered by the signature, so the
// signer would have signed a document the registry never rendered) is
// refused, and so is a signed update that skips base's last revision.
func (v *PadesVerifier) VerifyAct(ctx context.Context, base, signed []byte) (*Act, error) {
	if len(signed) <= len(base) || !bytes.Equal(signed[:len(base)], base) {
		return nil, fmt.Errorf("%w: the signed PDF does not extend the power's act: sign the document of GET .../document", ErrWrongDocument)
	}
	next, err := extensionRevision(base, signed)
	if err != nil {
		return nil, err
	}
	opts := v.Options
	rep, err := pades.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), &opts)
	if err != nil {
		return nil, fmt.Errorf("%w: the act is not a readable PDF: %v", ErrInvalid, err)
	}
	if len(rep.Signatures) == 0 {
		return nil, fmt.Errorf("%w: the act bears no signature", ErrInvalid)
	}
	var sig *pades.SignatureReport
	for i := range rep.Signatures {
		if s := &rep.Signatures[i]; s.Revision == next && s.Kind == "signature" {
			sig = s
		}
	}
	if sig == nil {
		return nil, fmt.Errorf("%w: the update after the power's act is not a signature's own (revision %d of %d is signed by nobody)", ErrWrongDocument, next+1, rep.Revisions)
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
	if !rep.Signatures[len(rep.Signatures)-1].CoversWholeDoc {
		return nil, fmt.Errorf("%w: the act was changed after its last signature", ErrInvalid)
	}
	act := &Act{SignedAt: sig.BestSignatureTime}
	if sig.Signer != nil {
		act.Signer = sig.Signer.IDNP
	}
	return act, nil
}

// extensionRevision checks that the revision of signed right after base's
// revisions starts at base's end and chains to base's last xref section,
// and returns its index.
func extensionRevision(base, signed []byte) (int, error) {
	br, err := pdf.Open(bytes.NewReader(base), int64(len(base)), &pdf.Options{NoRepair: true})
	if err != nil {
		return 0, fmt.Errorf("mpower: reading the power's act: %w", err)
	}
	sr, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), &pdf.Options{NoRepair: true})
	if err != nil {
		return 0, fmt.Errorf("%w: the signed PDF is not readable without repair: %v", ErrWrongDocument, err)
	}
	brevs, srevs := br.Revisions(), sr.Revisions()
	n := len(brevs)
	if len(srevs) <= n {
		return 0, fmt.Errorf("%w: the signed PDF adds no revision to the power's act", ErrWrongDocument)
	}
	for i := range n {
		if srevs[i].XrefOffset != brevs[i].XrefOffset {
			return 0, fmt.Errorf("%w: the signed PDF's revision %d is not the act's", ErrWrongDocument, i+1)
		}
	}
	rv := srevs[n]
	if prev, ok := rv.Trailer.Int("Prev"); !ok || prev != brevs[n-1].XrefOffset {
		return 0, fmt.Errorf("%w: the signed update does not follow the act's last cross-reference section", ErrWrongDocument)
	}
	first := int64(len(signed))
	for _, e := range rv.Entries() {
		if e.Type == pdf.EntryInUse && e.Offset < first {
			first = e.Offset
		}
	}
	for _, off := range rv.Sections {
		first = min(first, off)
	}
	if first < int64(len(base)) || len(bytes.TrimLeft(signed[len(base):first], "\r\n")) != 0 {
		return 0, fmt.Errorf("%w: the signed update does not start where the act ends (bytes %d to %d are outside it)", ErrWrongDocument, len(base), first)
	}
	return n, nil
}
