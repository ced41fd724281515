package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/testcerts"
)

// revReadCerts reads every certificate of a PEM bundle or one DER certificate.
func revReadCerts(path string) ([]*x509.Certificate, error) { return keyfile.LoadCerts(path) }

// revCertAndIssuer reads the certificate to check (first in certPath) and its
// issuer (--issuer, or the second certificate of certPath); the issuer is nil
// when neither gives it.
func revCertAndIssuer(certPath, issuerPath string) (*x509.Certificate, *x509.Certificate, error) {
	certs, err := revReadCerts(certPath)
	if err != nil {
		return nil, nil, err
	}
	cert := certs[0]
	if issuerPath != "" {
		is, err := revReadCerts(issuerPath)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range is {
			if cert.CheckSignatureFrom(c) == nil {
				return cert, c, nil
			}
		}
		return nil, nil, fmt.Errorf("%s does not hold the issuer of %q", issuerPath, cert.Subject)
	}
	for _, c := range certs[1:] {
		if cert.CheckSignatureFrom(c) == nil {
			return cert, c, nil
		}
	}
	return cert, nil, nil
}

// revIssuerFromAIA downloads the issuer certificate named in cert's AIA
// caIssuers extension and checks that it signed cert.
func revIssuerFromAIA(ctx context.Context, cert *x509.Certificate, timeout time.Duration) (*x509.Certificate, error) {
	issuer, err := ocsp.FetchIssuer(ctx, revHTTPClient(timeout), cert)
	if err != nil && len(cert.IssuingCertificateURL) == 0 {
		return nil, fmt.Errorf("the issuer of %q is needed: pass --issuer FILE (the certificate names no caIssuers URL)", cert.Subject)
	}
	return issuer, err
}

// revResolve reads the certificate and finds its issuer (file, bundle or AIA).
func revResolve(ctx context.Context, certPath, issuerPath string, timeout time.Duration) (*x509.Certificate, *x509.Certificate, error) {
	cert, issuer, err := revCertAndIssuer(certPath, issuerPath)
	if err != nil || issuer != nil {
		return cert, issuer, err
	}
	issuer, err = revIssuerFromAIA(ctx, cert, timeout)
	return cert, issuer, err
}

// revStatusJSON is the JSON shape of a revocation status.
type revStatusJSON struct {
	Subject    string     `json:"subject"`
	Serial     string     `json:"serial"`
	Status     crl.State  `json:"status"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Source     string     `json:"source"`
	ThisUpdate time.Time  `json:"this_update"`
	NextUpdate *time.Time `json:"next_update,omitempty"`
	Responder  string     `json:"responder,omitempty"`
}

func revReasonName(code int) string { return testcerts.ReasonName(code) }

// revReport prints a status and returns the exit code of the check commands:
// good 0, revoked 1, unknown 2.
func revReport(a *app, cert *x509.Certificate, st crl.Status, source string, this, next time.Time, responder string) error {
	j := revStatusJSON{Subject: cert.Subject.String(), Serial: fmt.Sprintf("%x", cert.SerialNumber), Status: st.State,
		Source: source, ThisUpdate: this.UTC(), Responder: responder}
	if !next.IsZero() {
		n := next.UTC()
		j.NextUpdate = &n
	}
	if st.State == crl.Revoked {
		r := st.RevokedAt.UTC()
		j.RevokedAt, j.Reason = &r, revReasonName(st.Reason)
	}
	if a.json {
		if err := a.printJSON(j); err != nil {
			return withCode(exitUsage, err)
		}
	} else {
		a.say("%s: %s\n", cert.Subject, st.State)
		if st.State == crl.Revoked {
			a.say("  revoked at:  %s (%s)\n", j.RevokedAt.Format(time.RFC3339), j.Reason)
		}
		a.say("  serial:      %s\n  source:      %s\n  this update: %s\n", j.Serial, source, j.ThisUpdate.Format(time.RFC3339))
		if j.NextUpdate != nil {
			a.say("  next update: %s\n", j.NextUpdate.Format(time.RFC3339))
		}
		if responder != "" {
			a.say("  signed by:   %s\n", responder)
		}
	}
	switch st.State {
	case crl.Revoked:
		return withCode(exitFailed, fmt.Errorf("certificate %q is revoked", cert.Subject))
	case crl.Unknown:
		return withCode(exitIndeterminate, fmt.Errorf("the responder does not know certificate %q", cert.Subject))
	}
	return nil
}

func revHTTPClient(timeout time.Duration) *http.Client { return &http.Client{Timeout: timeout} }

// revCtx bounds a command's network work.
func revCtx(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, timeout)
}
