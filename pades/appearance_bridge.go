package pades

import (
	"crypto/x509"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/pades/appearance"
	"github.com/semnat/semnat/pades/pdf"
)

// stampLines is the default text of a visible signature, in Romanian as on
// Moldovan e-government documents.
func stampLines(opts *Options, cert *x509.Certificate, now time.Time) []string {
	name := cert.Subject.CommonName
	if opts.Name != "" {
		name = opts.Name
	}
	lines := []string{"Semnat digital de: " + name}
	if sn := cert.Subject.SerialNumber; idn.KindOf(sn) == idn.Person {
		lines = append(lines, "IDNP: "+sn)
	}
	for _, o := range cert.Subject.Organization {
		lines = append(lines, o)
	}
	lines = append(lines, "Data: "+now.Format("2006.01.02 15:04:05 -07:00"))
	if opts.Reason != "" {
		lines = append(lines, "Motiv: "+opts.Reason)
	}
	if opts.Location != "" {
		lines = append(lines, "Locul: "+opts.Location)
	}
	return lines
}

// buildAppearance draws the visible stamp of a signature into rect.
func buildAppearance(u *pdf.Update, rect [4]float64, opts *Options, cert *x509.Certificate, now time.Time) (pdf.Ref, error) {
	lines := opts.Visible.Lines
	if len(lines) == 0 {
		lines = stampLines(opts, cert, now)
	}
	return appearance.Build(u, appearance.Spec{Rect: rect, Lines: lines, Image: opts.Visible.Image})
}
