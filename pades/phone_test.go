package pades

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/semnat/semnat/mobileid"
)

// TestSignByPhone signs PDFs at B-T with the mobile-signature simulator's
// scripted users on both protocol faces; pdfsig validates the result, and a
// user who declines leaves no output.
func TestSignByPhone(t *testing.T) {
	l := newLivePKI(t)
	// ETSI polls every 2 s: the scaled retention (5 min) must stay well above that.
	sim, err := mobileid.New(mobileid.Options{PKI: l.pki, TimeScale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	db := trustDB(t, l.pki)
	in := corpus(t, "pdf14-table.pdf")
	idnp := map[string]string{}
	for _, u := range sim.Users() {
		idnp[u.MSISDN] = u.IDNP
	}
	for _, tc := range []struct {
		face   mobileid.Face
		path   string
		msisdn string
		want   error
	}{
		{mobileid.FaceMID, "/mid-api", "+37300000001", nil}, // RSA-2048
		{mobileid.FaceMID, "/mid-api", "+37300000002", nil}, // ECDSA P-256, raw r||s on the wire
		{mobileid.FaceETSI, "/rest/service", "+37300000002", nil},
		{mobileid.FaceMID, "/mid-api", "+37300000010", mobileid.ErrUserCancelled},
	} {
		t.Run(string(tc.face)+tc.msisdn, func(t *testing.T) {
			c, err := mobileid.NewClient(srv.URL+tc.path, mobileid.ClientOptions{Face: tc.face, Roots: l.pki.RootPool(), Intermediates: l.pki.IntermediatePool(), PollInterval: 0})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var code string
			s, err := NewPhoneSigner(ctx, c, tc.msisdn, idnp[tc.msisdn], "Semnați contractul?", func(vc string) { code = vc })
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := signBytes(t, in, s, l.options(LevelBT))
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("want %v, got %v", tc.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(code) != 4 {
				t.Errorf("verification code %q", code)
			}
			sigs, certs := pdfsigResult(t, db, writeTemp(t, out))
			if len(sigs) != 1 || sigs[0] != "Signature is Valid." || certs[0] != "Certificate is Trusted." {
				t.Fatalf("pdfsig: %v %v", sigs, certs)
			}
		})
	}
}
