package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/tsa"
)

// TSA adapts a tsa.Client to Timestamper: it requests a token and checks
// it (status, imprint, nonce, TSA signature and EKU, and the chain when the
// client has roots) before it goes into a signature.
type TSA struct{ Client *tsa.Client }

// Timestamp implements Timestamper.
func (t TSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	tok, err := t.Client.Timestamp(ctx, h, digest)
	if err != nil {
		return nil, err
	}
	return tok.DER, nil
}

// OnlineRevocation fetches validation data for B-LT: an OCSP response from
// the certificate's AIA responder, or, when that fails, its CRL.
type OnlineRevocation struct {
	OCSP *ocsp.Client
	HTTP *http.Client // CRL and caIssuers fetches (default http.DefaultClient)
}

// ErrRevoked is returned when validation data says a certificate is revoked.
var ErrRevoked = errors.New("pades: certificate is revoked")

// Revocation implements RevocationSource.
func (o OnlineRevocation) Revocation(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	hc := o.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	if issuer == nil {
		var err error
		if issuer, err = ocsp.FetchIssuer(ctx, hc, cert); err != nil {
			return nil, nil, err
		}
	}
	oc := o.OCSP
	if oc == nil {
		oc = &ocsp.Client{HTTPClient: hc}
	}
	var ocspErr error
	if len(cert.OCSPServer) > 0 {
		res, err := oc.Check(ctx, cert, issuer)
		if err == nil {
			switch res.Status.State {
			case crl.Good:
				return [][]byte{res.Raw}, nil, nil
			case crl.Revoked:
				return nil, nil, fmt.Errorf("%w: %q since %s (OCSP)", ErrRevoked, cert.Subject.CommonName, res.Status.RevokedAt)
			}
			ocspErr = fmt.Errorf("OCSP status %s", res.Status.State)
		} else {
			ocspErr = err
		}
	}
	st, list, err := crl.CheckCert(ctx, hc, cert, issuer, crl.CheckOptions{})
	if err != nil {
		if ocspErr != nil {
			return nil, nil, fmt.Errorf("OCSP: %v; CRL: %w", ocspErr, err)
		}
		return nil, nil, err
	}
	if st.State == crl.Revoked {
		return nil, nil, fmt.Errorf("%w: %q since %s (CRL)", ErrRevoked, cert.Subject.CommonName, st.RevokedAt)
	}
	return nil, [][]byte{list.Raw}, nil
}
