package cms

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/semnat/semnat/internal/testtool"

	"github.com/semnat/semnat/testcerts"
)

func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

var signers = []struct {
	name string
	hash crypto.Hash
}{
	{"person-rsa2048", crypto.SHA256},
	{"person-rsa3072", crypto.SHA384},
	{"person-rsa4096", crypto.SHA512},
	{"person-p256", crypto.SHA256},
	{"person-p384", crypto.SHA384},
	{"person-pss", crypto.SHA256},
	{"seal", crypto.SHA256},
}

func signContent(t *testing.T, e *testcerts.Entity, h crypto.Hash, content []byte) []byte {
	t.Helper()
	d := h.New()
	d.Write(content)
	sd, err := Sign(rand.Reader, e.Key, Params{ContentDigest: d.Sum(nil), Hash: h, Certificate: e.Cert, Chain: e.Chain, PSS: e.PSS})
	if err != nil {
		t.Fatalf("%s: %v", e.Name, err)
	}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSignParseVerify(t *testing.T) {
	pki := testcerts.New(t)
	content := []byte("%PDF-1.7 the signed byte range")
	for _, s := range signers {
		t.Run(s.name, func(t *testing.T) {
			e := pki.MustGet(s.name)
			der := signContent(t, e, s.hash, content)
			p, err := Parse(append(der, make([]byte, 100)...)) // zero padding as in /Contents
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Certificates) != 1+len(e.Chain) || p.EContent != nil || !p.EContentType.Equal(OIDData) {
				t.Fatalf("parsed shape: %d certs, econtent %v", len(p.Certificates), p.EContent != nil)
			}
			cert := p.Signer.FindSignerCertificate(p.Certificates)
			if cert == nil || !cert.Equal(e.Cert) {
				t.Fatal("signer certificate not found")
			}
			if err := p.Signer.VerifySignature(cert); err != nil {
				t.Fatal(err)
			}
			if present, err := p.Signer.SigningCertificateV2Matches(cert); !present || err != nil {
				t.Fatalf("signing-certificate-v2: %v %v", present, err)
			}
			if _, ok, _ := p.Signer.Attr(OIDAttrSigningTime); ok {
				t.Fatal("signing-time present")
			}
			md, err := p.Signer.MessageDigest()
			d := s.hash.New()
			d.Write(content)
			if err != nil || !bytes.Equal(md, d.Sum(nil)) {
				t.Fatal("message digest mismatch")
			}
			alg, h, err := p.Signer.Algorithm()
			if err != nil || h != s.hash || (alg == RSAPSS) != e.PSS {
				t.Fatalf("algorithm %v %v %v", alg, h, err)
			}
			// A different certificate does not match signing-certificate-v2.
			other := pki.MustGet("person-p256")
			if e.Name != other.Name {
				if _, err := p.Signer.SigningCertificateV2Matches(other.Cert); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("other cert matched: %v", err)
				}
			}
			// Flip one bit of the signature: verification fails.
			p.Signer.Signature[len(p.Signer.Signature)/2] ^= 1
			if err := p.Signer.VerifySignature(cert); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered signature: %v", err)
			}
		})
	}
}

// TestOpenSSLCMSVerify is the independent oracle: openssl cms -verify accepts
// our detached signatures over the content, with the chain to the test root.
func TestOpenSSLCMSVerify(t *testing.T) {
	openssl := requireTool(t, "openssl")
	pki := testcerts.New(t)
	dir := t.TempDir()
	content := bytes.Repeat([]byte("signed bytes "), 1000)
	contentFile := filepath.Join(dir, "content.bin")
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(contentFile, content, 0o644)
	os.WriteFile(root, testcerts.PEM(pki.Root.Cert), 0o644)
	for _, s := range signers {
		der := signContent(t, pki.MustGet(s.name), s.hash, content)
		sigFile := filepath.Join(dir, s.name+".p7s")
		os.WriteFile(sigFile, der, 0o644)
		out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile,
			"-content", contentFile, "-CAfile", root, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("Verification successful")) {
			t.Errorf("%s: openssl cms -verify: %v\n%s", s.name, err, out)
		}
		// And it rejects other content.
		bad := filepath.Join(dir, "bad.bin")
		os.WriteFile(bad, append(content, 'x'), 0o644)
		if out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile,
			"-content", bad, "-CAfile", root, "-purpose", "any", "-out", os.DevNull).CombinedOutput(); err == nil {
			t.Errorf("%s: openssl accepted wrong content\n%s", s.name, out)
		}
	}
}

func TestTwoPhaseWithRawECDSA(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	digest := sha256.Sum256([]byte("content"))
	pend, err := Prepare(Params{ContentDigest: digest[:], Certificate: e.Cert, Chain: e.Chain})
	if err != nil {
		t.Fatal(err)
	}
	der, err := e.Key.Sign(rand.Reader, pend.Digest(), pend.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	// Convert to raw r||s, as a token or phone returns it.
	raw := derToRaw(t, der, 32)
	sd, err := pend.Complete(raw)
	if err != nil {
		t.Fatalf("raw r||s rejected: %v", err)
	}
	if _, err := sd.Marshal(); err != nil {
		t.Fatal(err)
	}
	// A signature by another key is refused.
	other, _ := pki.MustGet("mobile-p256").Key.Sign(rand.Reader, pend.Digest(), pend.SignerOpts())
	if _, err := pend.Complete(other); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("foreign signature: %v", err)
	}
}

func TestPrepareRefusesBadInput(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	d := sha256.Sum256(nil)
	if _, err := Prepare(Params{ContentDigest: d[:16], Certificate: e.Cert}); err == nil {
		t.Error("short digest accepted")
	}
	if _, err := Prepare(Params{ContentDigest: d[:20], Hash: crypto.SHA1, Certificate: e.Cert}); !errors.Is(err, ErrUnsupportedHash) {
		t.Error("SHA-1 accepted")
	}
	if _, err := Prepare(Params{ContentDigest: d[:], Certificate: e.Cert, ExtraSigned: []Attribute{{Type: OIDAttrSigningTime}}}); err == nil {
		t.Error("signing-time accepted")
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	pki := testcerts.New(t)
	der := signContent(t, pki.MustGet("person-p256"), crypto.SHA256, []byte("x"))
	for name, in := range map[string][]byte{
		"empty":     nil,
		"truncated": der[:len(der)-10],
		"garbage":   append(append([]byte(nil), der...), 1, 2, 3),
		"not-cms":   {0x30, 0x03, 0x02, 0x01, 0x01},
	} {
		if _, err := Parse(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	pki := testcerts.New(f)
	for _, n := range []string{"person-p256", "person-pss"} {
		e := pki.MustGet(n)
		d := sha256.Sum256([]byte("x"))
		sd, err := Sign(rand.Reader, e.Key, Params{ContentDigest: d[:], Certificate: e.Cert, Chain: e.Chain, PSS: e.PSS})
		if err != nil {
			f.Fatal(err)
		}
		der, _ := sd.Marshal()
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		// Round trip: what was parsed is p.Raw (the input but trailing zero
		// padding), and it parses again to the same structure.
		if !bytes.Equal(p.Raw, data[:len(p.Raw)]) || len(bytes.Trim(data[len(p.Raw):], "\x00")) != 0 {
			t.Fatalf("Raw is not the input: % x", p.Raw)
		}
		again, err := Parse(p.Raw)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("Raw does not parse again to the same SignedData: %v", err)
		}
		// The signed attributes re-marshal to the bytes that were signed:
		// exactly, when the input kept DER order; else the same attributes.
		if p.Signer.SignedAttrsDER != nil {
			re, err := marshalAttributes(p.Signer.SignedAttrs)
			if err != nil {
				t.Fatalf("re-marshal of the parsed signed attributes: %v", err)
			}
			back, err := parseAttributes(re)
			if err != nil || len(re) != len(p.Signer.SignedAttrsDER) || len(back) != len(p.Signer.SignedAttrs) {
				t.Fatalf("re-marshalled signed attributes differ: %v\n% x\n% x", err, re, p.Signer.SignedAttrsDER)
			}
			if derOrdered(p.Signer.SignedAttrs) && !bytes.Equal(re, p.Signer.SignedAttrsDER) {
				t.Fatalf("DER-ordered signed attributes re-marshal differently:\n% x\n% x", re, p.Signer.SignedAttrsDER)
			}
		}
		for _, c := range p.Certificates {
			_ = p.Signer.VerifySignature(c)
			_, _ = p.Signer.SigningCertificateV2Matches(c)
		}
		_, _ = p.Signer.MessageDigest()
		_, _, _ = p.Signer.Algorithm()
	})
}

func derToRaw(t *testing.T, der []byte, size int) []byte {
	t.Helper()
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 2*size)
	rs.R.FillBytes(raw[:size])
	rs.S.FillBytes(raw[size:])
	return raw
}

// derOrdered tells whether attrs (and each one's values) are in the order
// DER gives a SET OF, so that re-marshalling them must give the same bytes.
func derOrdered(attrs []Attribute) bool {
	enc := make([][]byte, len(attrs))
	for i, a := range attrs {
		if !slices.IsSortedFunc(a.Values, bytes.Compare) {
			return false
		}
		d, err := a.marshal()
		if err != nil {
			return false
		}
		enc[i] = d
	}
	return slices.IsSortedFunc(enc, bytes.Compare)
}
