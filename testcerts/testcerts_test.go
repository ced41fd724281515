package testcerts

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"time"

	"github.com/semnat/semnat/idn"
)

func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

func TestGeneratedPKIShape(t *testing.T) {
	p := New(t)
	if p.Root == nil || p.TokenCA == nil || p.MobileCA == nil || p.UntrustedRoot == nil {
		t.Fatal("missing CA")
	}
	seenKT := map[KeyType]bool{}
	for _, e := range p.Entities() {
		seenKT[e.KeyType] = true
		if KeyTypeOf(e.Key.Public()) != e.KeyType {
			t.Errorf("%s: key type %s does not match key", e.Name, e.KeyType)
		}
		if e.Cert.Subject.Country[0] != "MD" {
			t.Errorf("%s: country %v", e.Name, e.Cert.Subject.Country)
		}
		switch e.Role {
		case RolePerson, RoleMobile, RoleRevoked, RoleExpired, RoleNotYetValid, RoleBadUsage, RoleUntrusted:
			if e.Cert.IsCA {
				continue
			}
			if !idn.Valid(e.Cert.Subject.SerialNumber) || idn.KindOf(e.IDNP) != idn.Person {
				t.Errorf("%s: subject serialNumber %q is not a valid IDNP", e.Name, e.Cert.Subject.SerialNumber)
			}
		case RoleSeal:
			if idn.KindOf(e.IDNO) != idn.Entity || !strings.HasSuffix(e.Cert.Subject.Organization[0], " "+e.IDNO) {
				t.Errorf("seal: O=%v IDNO=%s", e.Cert.Subject.Organization, e.IDNO)
			}
		}
		if e.Role == RolePerson || e.Role == RoleSeal || e.Role == RoleMobile {
			if e.Cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
				t.Errorf("%s: key usage %b lacks digitalSignature+nonRepudiation", e.Name, e.Cert.KeyUsage)
			}
			if len(e.Cert.OCSPServer) != 1 || len(e.Cert.CRLDistributionPoints) != 1 || len(e.Cert.IssuingCertificateURL) != 1 {
				t.Errorf("%s: AIA/CRLDP missing", e.Name)
			}
		}
	}
	for _, kt := range []KeyType{RSA2048, RSA3072, RSA4096, P256, P384} {
		if !seenKT[kt] {
			t.Errorf("no %s key generated", kt)
		}
	}
	tsa := p.MustGet("tsa")
	var critical bool
	for _, ext := range tsa.Cert.Extensions {
		if ext.Id.String() == "2.5.29.37" {
			critical = ext.Critical
		}
	}
	if !critical || len(tsa.Cert.ExtKeyUsage) != 1 || tsa.Cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Errorf("tsa EKU: critical=%v %v", critical, tsa.Cert.ExtKeyUsage)
	}
	o := p.MustGet("ocsp-token")
	if len(o.Cert.ExtKeyUsage) != 1 || o.Cert.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning {
		t.Errorf("ocsp EKU %v", o.Cert.ExtKeyUsage)
	}
	var nocheck bool
	for _, ext := range o.Cert.Extensions {
		nocheck = nocheck || ext.Id.Equal(OIDOCSPNoCheck)
	}
	if !nocheck {
		t.Error("ocsp responder lacks id-pkix-ocsp-nocheck")
	}
	if pss := p.MustGet("person-pss"); pss.Cert.SignatureAlgorithm != x509.SHA256WithRSAPSS || !pss.PSS {
		t.Errorf("person-pss signed with %v", pss.Cert.SignatureAlgorithm)
	}
	if r, ok := p.IsRevoked(p.MustGet("revoked")); !ok || r.Reason != ReasonKeyCompromise || !r.Time.Before(time.Now()) {
		t.Errorf("revoked entity not revoked right: %+v %v", r, ok)
	}
	if _, ok := p.IsRevoked(p.MustGet("person-p256")); ok {
		t.Error("person-p256 listed as revoked")
	}
	// Go's own verifier agrees on the chains.
	opts := x509.VerifyOptions{Roots: p.RootPool(), Intermediates: p.IntermediatePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, name := range []string{"person-rsa2048", "person-pss", "seal", "mobile-p256", "tsa"} {
		if _, err := p.MustGet(name).Cert.Verify(opts); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"expired", "notyetvalid", "untrusted"} {
		if _, err := p.MustGet(name).Cert.Verify(opts); err == nil {
			t.Errorf("%s: Go verified a chain that must fail", name)
		}
	}
}

// TestOpenSSLVerify is the independent check: openssl accepts every valid
// chain written by WriteDir and rejects each negative case for its reason.
func TestOpenSSLVerify(t *testing.T) {
	openssl := requireTool(t, "openssl")
	dir := t.TempDir()
	p := New(t)
	idx, err := p.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Every CA's CRL in one PEM bundle, for -crl_check.
	var crls []byte
	for _, e := range idx.Entries {
		if e.CRL != "" {
			b, err := os.ReadFile(filepath.Join(dir, e.CRL+".pem"))
			if err != nil {
				t.Fatal(err)
			}
			crls = append(crls, b...)
		}
	}
	crlFile := filepath.Join(dir, "all-crls.pem")
	if err := os.WriteFile(crlFile, crls, 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[Role]string{ // substring of openssl's error, "" for OK
		RolePerson: "", RoleSeal: "", RoleMobile: "", RoleTSA: "", RoleOCSP: "", RoleCA: "",
		RoleRevoked:     "certificate revoked",
		RoleExpired:     "certificate has expired",
		RoleNotYetValid: "certificate is not yet valid",
		RoleBadUsage:    "error 26 at 0",
		RoleUntrusted:   "unable to get local issuer certificate",
	}
	checked := 0
	for _, e := range idx.Entries {
		exp, ok := want[e.Role]
		if !ok || (e.Role == RoleUntrusted && e.Name == "untrusted-root") {
			continue
		}
		args := []string{"verify", "-CAfile", filepath.Join(dir, idx.TrustAnchors), "-crl_check", "-CRLfile", crlFile}
		if e.Chain != "" {
			if fi, err := os.Stat(filepath.Join(dir, e.Chain)); err == nil && fi.Size() > 0 {
				args = append(args, "-untrusted", filepath.Join(dir, e.Chain))
			}
		}
		switch e.Role {
		case RolePerson, RoleSeal, RoleMobile, RoleBadUsage:
			args = append(args, "-purpose", "smimesign")
		case RoleTSA:
			args = append(args, "-purpose", "timestampsign")
		}
		args = append(args, filepath.Join(dir, e.Cert))
		var out bytes.Buffer
		cmd := exec.Command(openssl, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		got := out.String()
		if exp == "" {
			if err != nil || !strings.Contains(got, ": OK") {
				t.Errorf("%s (%s): openssl rejected a valid chain: %v\n%s", e.Name, e.Role, err, got)
			}
		} else if err == nil || !strings.Contains(got, exp) {
			t.Errorf("%s (%s): openssl said %q, want an error containing %q", e.Name, e.Role, got, exp)
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d entries checked", checked)
	}
	// The PKCS#12 bundles open with their password.
	for _, e := range idx.Entries[:3] {
		cmd := exec.Command(openssl, "pkcs12", "-in", filepath.Join(dir, e.P12), "-passin", "pass:"+e.P12Password, "-nokeys", "-noout")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: openssl pkcs12: %v\n%s", e.Name, err, out)
		}
	}
}

func TestWriteDirLoadRoundTrip(t *testing.T) {
	p := New(t)
	dir := t.TempDir()
	if _, err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	q, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Entities()) != len(p.Entities()) || len(q.Revocations) != len(p.Revocations) {
		t.Fatalf("loaded %d entities/%d revocations, wrote %d/%d", len(q.Entities()), len(q.Revocations), len(p.Entities()), len(p.Revocations))
	}
	for _, e := range p.Entities() {
		l := q.Get(e.Name)
		if l == nil || !l.Cert.Equal(e.Cert) || len(l.Chain) != len(e.Chain) || l.Role != e.Role {
			t.Errorf("%s did not round-trip", e.Name)
		}
	}
	if _, ok := q.IsRevoked(q.MustGet("revoked")); !ok {
		t.Error("revocation lost")
	}
	if st, err := os.Stat(filepath.Join(dir, "person-p256", "key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", st.Mode(), err)
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty dir succeeded")
	}
}

func TestParseReason(t *testing.T) {
	if c, err := ParseReason("KeyCompromise"); err != nil || c != ReasonKeyCompromise {
		t.Fatal(c, err)
	}
	if _, err := ParseReason("bogus"); err == nil {
		t.Fatal("bogus reason accepted")
	}
}
