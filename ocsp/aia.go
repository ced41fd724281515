package ocsp

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrNoIssuer is returned when a certificate's issuer cannot be found
// through its AIA caIssuers URLs.
var ErrNoIssuer = errors.New("ocsp: issuer certificate not found")

// FetchIssuer downloads the issuer of cert from its AIA caIssuers URLs (DER
// or PEM, as some CAs serve) and checks that it did issue cert. An OCSP
// request needs the issuer's name and key hashes.
func FetchIssuer(ctx context.Context, hc *http.Client, cert *x509.Certificate) (*x509.Certificate, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	var errs []error
	for _, u := range cert.IssuingCertificateURL {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			continue
		}
		issuer, err := fetchIssuerFrom(ctx, hc, u, cert)
		if err == nil {
			return issuer, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: %q names no HTTP caIssuers URL", ErrNoIssuer, cert.Subject)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoIssuer, errors.Join(errs...))
}

func fetchIssuerFrom(ctx context.Context, hc *http.Client, u string, cert *x509.Certificate) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the issuer from %s: %w", u, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the issuer from %s: HTTP %d %v", u, resp.StatusCode, err)
	}
	if b, _ := pem.Decode(data); b != nil && b.Type == "CERTIFICATE" {
		data = b.Bytes
	}
	issuer, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("issuer from %s: %w", u, err)
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the certificate at %s did not issue %q: %w", u, cert.Subject, err)
	}
	return issuer, nil
}
