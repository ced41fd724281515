package pades

import (
	"crypto/x509"
	"sync"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/pades/appearance"
	"github.com/semnat/semnat/pades/pdf"
)

// chisinau is the zone of the stamp's date (Europe/Chisinau, with its
// abbreviation: EET or EEST), loaded from the embedded time zone database
// where the system has none (tzdata.go), on first use rather than at start.
var chisinau = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/Chisinau")
	if err != nil {
		return time.FixedZone("EET", 2*3600) // not reached but in the browser's verifier: time/tzdata has it
	}
	return loc
})

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
	lines = append(lines, "Data: "+now.In(chisinau()).Format("02.01.2006 15:04:05 MST"))
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
	return appearance.Build(u, appearance.Spec{Rect: rect, Lines: lines, Image: opts.Visible.Image,
		Background: opts.Visible.Background, Transparent: opts.Visible.Transparent, Border: opts.Visible.Border})
}
