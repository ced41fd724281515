package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pades"
)

// mobileSource is the --mobile way of `semnat sign`: the phone signs the
// digest through an MSSP (Mobile-ID REST or ETSI TS 102 204 face).
type mobileSource struct {
	msisdn, idnp, mssp, face, display string
	trust                             *[]string // shared with sign's --trust
	timeout                           time.Duration
}

func newMobileSource(fs *pflag.FlagSet, trust *[]string) *mobileSource {
	m := &mobileSource{trust: trust}
	fs.StringVar(&m.msisdn, "mobile", "", "sign with the mobile SIM signature of this phone number (+373...); --trust gives the roots of its certificate (intermediates: from --trust, the service's answer, else the certificate's AIA URL)")
	fs.StringVar(&m.idnp, "idnp", "", "the signer's IDNP, for --mobile (required by the Mobile-ID face)")
	fs.StringVar(&m.mssp, "mssp", "http://127.0.0.1:8480/mid-api", "mobile signature service URL for --mobile (.../mid-api or .../rest/service)")
	fs.StringVar(&m.face, "mssp-face", "", "protocol of --mssp: mid or etsi (default: from the URL)")
	fs.StringVar(&m.display, "display-text", "Semnați documentul?", "text shown on the phone")
	fs.DurationVar(&m.timeout, "mobile-timeout", 3*time.Minute, "how long to wait for the phone")
	return m
}

func (m *mobileSource) active() bool { return m.msisdn != "" }

func (m *mobileSource) open(ctx context.Context, a *app) (pades.Signer, func(), error) {
	if len(*m.trust) == 0 {
		return nil, nil, withCode(exitUsage, errors.New("--mobile needs --trust PEM: the trust anchors the phone's certificate must chain to"))
	}
	mssp, note := msspURL(m.mssp, m.face)
	if note != "" {
		fmt.Fprintln(a.stderr, note)
	}
	m.mssp = mssp
	if err := m.checkIDNP(); err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	roots, inter, err := loadPools(*m.trust)
	if err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("--trust: %w", err))
	}
	aia := &http.Client{Timeout: 15 * time.Second}
	fetch := func(c *x509.Certificate) (*x509.Certificate, error) { return ocsp.FetchIssuer(ctx, aia, c) }
	c, err := newMobileClient(m.mssp, m.face, mobileid.ClientOptions{Roots: roots, Intermediates: inter, FetchIssuer: fetch,
		HTTPClient: &http.Client{Timeout: m.timeout}})
	if err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	spin := &spinner{a: a}
	ps, err := pades.NewPhoneSigner(ctx, c, m.msisdn, m.idnp, m.display, spin.start)
	if err != nil {
		return nil, nil, withCode(exitFailed, err)
	}
	return &spinningSigner{PhoneSigner: ps, spin: spin, timeout: m.timeout}, func() { spin.stop() }, nil
}

// checkIDNP asks for --idnp before the service is called when the face
// needs it (Mobile-ID asks for the person's code with the phone number),
// and checks its digits when given.
func (m *mobileSource) checkIDNP() error {
	if m.idnp == "" {
		if mobileFace(m.mssp, m.face) == mobileid.FaceMID {
			return errors.New("--mobile through the Mobile-ID face (" + m.mssp + ") needs --idnp, the signer's 13-digit personal code (IDNP); the ETSI face (--mssp .../rest/service) needs only the phone number")
		}
		return nil
	}
	if err := idn.Check(m.idnp); err != nil {
		return fmt.Errorf("--idnp %q: %w", m.idnp, err)
	}
	return nil
}

// msspURL recognises a --mssp URL that names the server, not one of its
// faces (http://host:8480 or .../): the face's path is added (/mid-api, or
// /rest/service for --mssp-face etsi), and note says so.
func msspURL(raw, face string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return raw, ""
	}
	path := "/mid-api"
	if face == string(mobileid.FaceETSI) {
		path = "/rest/service"
	}
	fixed := strings.TrimSuffix(raw, "/") + path
	return fixed, fmt.Sprintf("--mssp %s is the server, not a face of it: using %s (the Mobile-ID face is .../mid-api, the ETSI one .../rest/service)", raw, fixed)
}

// newMobileClient is a client of the MSSP at url; face "mid" or "etsi",
// or "" to tell it from the URL (.../rest/service is ETSI).
func newMobileClient(url, face string, opts mobileid.ClientOptions) (*mobileid.Client, error) {
	opts.Face = mobileFace(url, face)
	return mobileid.NewClient(url, opts)
}

func mobileFace(url, face string) mobileid.Face {
	if face != "" {
		return mobileid.Face(face)
	}
	if strings.Contains(url, "/rest/service") {
		return mobileid.FaceETSI
	}
	return mobileid.FaceMID
}

// loadPools reads PEM certificates: self-signed ones become trust anchors,
// the others intermediates.
func loadPools(files []string) (roots, inter *x509.CertPool, err error) {
	var all []*x509.Certificate
	for _, f := range files {
		certs, err := keyfile.LoadCerts(f)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, certs...)
	}
	roots, inter, n := splitAnchors(all)
	if n == 0 {
		return nil, nil, errors.New("no self-signed trust anchor among the certificates")
	}
	return roots, inter, nil
}

// splitAnchors pools self-signed certificates as trust anchors and the
// others as intermediates; n is the number of anchors.
func splitAnchors(certs []*x509.Certificate) (anchors, inter *x509.CertPool, n int) {
	anchors, inter = x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certs {
		if string(c.RawSubject) == string(c.RawIssuer) {
			anchors.AddCert(c)
			n++
		} else {
			inter.AddCert(c)
		}
	}
	return anchors, inter, n
}

// spinningSigner stops the spinner when the phone has answered.
type spinningSigner struct {
	*pades.PhoneSigner
	spin    *spinner
	timeout time.Duration
}

func (s *spinningSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	defer s.spin.stop()
	return s.PhoneSigner.SignContext(ctx, digest, opts)
}

// spinner shows the verification code and, on a terminal, a spinner while
// the phone is asked.
type spinner struct {
	a    *app
	mu   sync.Mutex
	done chan struct{}
}

func (s *spinner) start(code string) {
	fmt.Fprintf(s.a.stderr, "Verification code: %s  (check that your phone shows the same code, then enter your PIN)\n", code)
	if !isTerminal(s.a.stderr) || s.a.json {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = make(chan struct{})
	go func(done chan struct{}) {
		frames := `|/-\`
		for i := 0; ; i++ {
			select {
			case <-done:
				fmt.Fprint(s.a.stderr, "\r                              \r")
				return
			case <-time.After(120 * time.Millisecond):
				fmt.Fprintf(s.a.stderr, "\rwaiting for the phone %c", frames[i%len(frames)])
			}
		}
	}(s.done)
}

func (s *spinner) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		close(s.done)
		s.done = nil
	}
}
