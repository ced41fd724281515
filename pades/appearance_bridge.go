package pades

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/semnat/semnat/pades/pdf"
)

// buildAppearance draws the visible stamp of a signature.
func buildAppearance(u *pdf.Update, rect [4]float64, opts *Options, cert *x509.Certificate, now time.Time) (pdf.Ref, error) {
	return pdf.Ref{}, errors.New("pades: visible signatures are not available yet")
}
