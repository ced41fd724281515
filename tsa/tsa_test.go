package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/testcerts"
)

// requireTool returns the path of an external oracle. Outside CI a missing
// tool skips the test; in CI (CI=true) it fails it.
func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

func newTSA(t testing.TB, name string, opts ServerOptions) (*testcerts.PKI, *Server, string) {
	t.Helper()
	p := testcerts.New(t)
	s, err := ServerFromPKI(p, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return p, s, srv.URL + "/tsa"
}

func TestClientServerRoundTrip(t *testing.T) {
	for _, name := range []string{"tsa", "tsa-rsa"} {
		t.Run(name, func(t *testing.T) {
			p, s, url := newTSA(t, name, ServerOptions{})
			data := []byte("contract " + name)
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				c := Client{URL: url, Hash: h, Roots: p.RootPool()}
				before := time.Now().Add(-time.Second)
				tok, err := c.TimestampData(context.Background(), bytes.NewReader(data))
				if err != nil {
					t.Fatalf("%v: %v", h, err)
				}
				in := tok.Info
				if in.GenTime.Before(before.Truncate(time.Second)) || in.GenTime.After(time.Now().Add(time.Second)) {
					t.Errorf("genTime %v", in.GenTime)
				}
				if !in.Policy.Equal(DefaultPolicy) || in.Accuracy != time.Second || in.Nonce == nil || in.HashAlgorithm != h {
					t.Errorf("info %+v", in)
				}
				if !in.Signer.Equal(s.Certificate()) || len(in.Chains) == 0 || !in.Chains[0][len(in.Chains[0])-1].Equal(p.Root.Cert) {
					t.Errorf("signer/chain wrong")
				}
				hh := h.New()
				hh.Write(data)
				if _, err := Verify(tok.DER, h, hh.Sum(nil), VerifyOptions{Roots: p.RootPool()}); err != nil {
					t.Errorf("Verify: %v", err)
				}
				if _, err := Verify(tok.DER, h, make([]byte, h.Size()), VerifyOptions{Roots: p.RootPool()}); !errors.Is(err, ErrImprintMismatch) {
					t.Errorf("other digest: %v", err)
				}
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	p, _, url := newTSA(t, "tsa", ServerOptions{})
	ctx := context.Background()
	digest := sha256.Sum256([]byte("x"))
	tok, err := (&Client{URL: url}).Timestamp(ctx, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	t.Run("untrusted root", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(p.UntrustedRoot.Cert)
		if _, err := Verify(tok.DER, crypto.SHA256, digest[:], VerifyOptions{Roots: pool}); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no roots", func(t *testing.T) {
		if _, err := Verify(tok.DER, crypto.SHA256, digest[:], VerifyOptions{}); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("after TSA expiry", func(t *testing.T) {
		at := p.MustGet("tsa").Cert.NotAfter.Add(time.Hour)
		if _, err := Verify(tok.DER, crypto.SHA256, digest[:], VerifyOptions{Roots: p.RootPool(), CurrentTime: at}); !errors.Is(err, ErrUntrusted) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("nonce", func(t *testing.T) {
		if _, err := Verify(tok.DER, crypto.SHA256, digest[:], VerifyOptions{Roots: p.RootPool(), Nonce: big.NewInt(7)}); !errors.Is(err, ErrNonceMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		bad := append([]byte(nil), tok.DER...)
		i := bytes.Index(bad, digest[:])
		if i < 0 {
			t.Fatal("imprint not found in token")
		}
		bad[i] ^= 0xff
		if _, err := Parse(bad); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("token without certificate", func(t *testing.T) {
		tok, err := (&Client{URL: url, NoCertReq: true}).Timestamp(ctx, crypto.SHA256, digest[:])
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("client without the TSA certificate: %v %v", tok, err)
		}
		// Fetch the raw token and verify it with the TSA certificate supplied.
		req := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:]}
		der, _ := req.Marshal()
		resp, err := http.Post(url, "application/timestamp-query", bytes.NewReader(der))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		raw, err := ParseResponse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		opts := VerifyOptions{Roots: p.RootPool(), Intermediates: p.IntermediatePool(), Certificates: []*x509.Certificate{p.MustGet("tsa").Cert}}
		info, err := Verify(raw, crypto.SHA256, digest[:], opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Certificates) != 0 {
			t.Fatalf("token carries %d certificates", len(info.Certificates))
		}
	})
	t.Run("signer is not a TSA", func(t *testing.T) {
		person := p.MustGet("person-p256")
		if _, err := NewServer(person.Cert, person.Chain, person.Key, ServerOptions{}); !errors.Is(err, ErrNotTSA) {
			t.Fatalf("NewServer: %v", err)
		}
		// A token made by hand with a person's key.
		ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Time: time.Now(), Policy: DefaultPolicy, AddTSACertificate: true}
		resp, err := ts.CreateResponseWithOpts(person.Cert, person.Key, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ParseResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(raw, crypto.SHA256, digest[:], VerifyOptions{Roots: p.RootPool(), Intermediates: p.IntermediatePool()}); !errors.Is(err, ErrNotTSA) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestServerRejections(t *testing.T) {
	_, s, _ := newTSA(t, "tsa", ServerOptions{})
	digest := sha256.Sum256([]byte("x"))
	sha1Digest := make([]byte, 20)
	mk := func(r timestamp.Request) []byte {
		der, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	cases := []struct {
		name string
		der  []byte
		want FailureInfo
	}{
		{"garbage", []byte("hello"), FailBadDataFormat},
		{"sha1", mk(timestamp.Request{HashAlgorithm: crypto.SHA1, HashedMessage: sha1Digest}), FailBadAlg},
		{"short imprint", mk(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:10]}), FailBadDataFormat},
		{"other policy", mk(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], TSAPolicyOID: asn1.ObjectIdentifier{1, 2, 3}}), FailUnacceptedPolicy},
		{"extension", mk(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], ExtraExtensions: nil}), -1},
		{"too large", make([]byte, 20<<10), FailBadRequest},
	}
	ext := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:]}
	ext.ExtraExtensions = append(ext.ExtraExtensions, pkixExt())
	cases[4].der, cases[4].want = mk(ext), FailUnacceptedExtension
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, reason := s.Respond(context.Background(), tc.der)
			if reason == nil {
				t.Error("no reason returned")
			}
			_, err := ParseResponse(out)
			var re *RejectedError
			if !errors.As(err, &re) || !errors.Is(err, ErrRejected) || re.Status != StatusRejection || !re.Has(tc.want) || re.Text == "" {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestSHA512Imprint(t *testing.T) {
	p, _, url := newTSA(t, "tsa-rsa", ServerOptions{Accuracy: -1})
	d := sha512.Sum512([]byte("y"))
	tok, err := (&Client{URL: url, Roots: p.RootPool(), Policy: DefaultPolicy}).Timestamp(context.Background(), crypto.SHA512, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if tok.Info.Accuracy != 0 || tok.Info.Qualified {
		t.Fatalf("accuracy %v qualified %v, want none", tok.Info.Accuracy, tok.Info.Qualified)
	}
}

func TestQualified(t *testing.T) {
	p, _, url := newTSA(t, "tsa", ServerOptions{Qualified: true})
	d := sha256.Sum256([]byte("q"))
	tok, err := (&Client{URL: url, Roots: p.RootPool()}).Timestamp(context.Background(), crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Info.Qualified {
		t.Fatal("qualified statement not seen")
	}
}

func writePEMFile(t *testing.T, path string, blockType string, der ...[]byte) {
	t.Helper()
	var out []byte
	for _, d := range der {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: d})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSSLVerifiesOurTokens: openssl makes the query, our TSA answers,
// openssl ts -verify checks the reply against the root.
func TestOpenSSLVerifiesOurTokens(t *testing.T) {
	openssl := requireTool(t, "openssl")
	// Built-in encoder for both key types, and the digitorus/timestamp encoder.
	for _, tc := range []struct {
		name string
		lib  bool
	}{{"tsa", false}, {"tsa-rsa", false}, {"tsa", true}} {
		name := tc.name
		if tc.lib {
			name += "-library"
		}
		t.Run(name, func(t *testing.T) {
			p, _, url := newTSA(t, tc.name, ServerOptions{UseLibrary: tc.lib})
			dir := t.TempDir()
			data := filepath.Join(dir, "data.txt")
			os.WriteFile(data, []byte("Primăria municipiului Chișinău"), 0o644)
			run := func(args ...string) []byte {
				out, err := exec.Command(openssl, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("openssl %v: %v\n%s", args, err, out)
				}
				return out
			}
			tsq := filepath.Join(dir, "req.tsq")
			run("ts", "-query", "-data", data, "-sha256", "-cert", "-out", tsq)
			q, _ := os.ReadFile(tsq)
			resp, err := http.Post(url, "application/timestamp-query", bytes.NewReader(q))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			tsr := filepath.Join(dir, "resp.tsr")
			os.WriteFile(tsr, buf.Bytes(), 0o644)
			root, chain := filepath.Join(dir, "root.pem"), filepath.Join(dir, "chain.pem")
			writePEMFile(t, root, "CERTIFICATE", p.Root.Cert.Raw)
			writePEMFile(t, chain, "CERTIFICATE", p.TokenCA.Cert.Raw)
			out := run("ts", "-verify", "-queryfile", tsq, "-in", tsr, "-CAfile", root, "-untrusted", chain)
			if !bytes.Contains(out, []byte("Verification: OK")) {
				t.Fatalf("openssl:\n%s", out)
			}
			out = run("ts", "-reply", "-in", tsr, "-text")
			if !bytes.Contains(out, []byte("Policy OID: "+DefaultPolicy.String())) || !bytes.Contains(out, []byte("Accuracy: 0x01 seconds")) {
				t.Fatalf("openssl -text:\n%s", out)
			}
		})
	}
}

// TestWeVerifyOpenSSLTokens: openssl acts as the TSA (ESSCertID v1 with
// SHA-1 and v2 with SHA-256); our parser and verifier must accept both.
func TestWeVerifyOpenSSLTokens(t *testing.T) {
	openssl := requireTool(t, "openssl")
	p := testcerts.New(t)
	dir := t.TempDir()
	e := p.MustGet("tsa-rsa")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(e.Key)
	writePEMFile(t, filepath.Join(dir, "key.pem"), "PRIVATE KEY", keyDER)
	writePEMFile(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", e.Cert.Raw)
	writePEMFile(t, filepath.Join(dir, "chain.pem"), "CERTIFICATE", p.TokenCA.Cert.Raw)
	os.WriteFile(filepath.Join(dir, "serial"), []byte("01\n"), 0o644)
	data := []byte("document")
	os.WriteFile(filepath.Join(dir, "data"), data, 0o644)
	for _, ess := range []string{"sha1", "sha256"} {
		t.Run("ess-"+ess, func(t *testing.T) {
			cnf := `[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = ` + filepath.Join(dir, "serial") + `
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:2, millisecs:500
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = ` + ess + "\n"
			os.WriteFile(filepath.Join(dir, "ts.cnf"), []byte(cnf), 0o644)
			tsq, tsr := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
			for _, args := range [][]string{
				{"ts", "-query", "-data", filepath.Join(dir, "data"), "-sha256", "-cert", "-out", tsq},
				{"ts", "-reply", "-config", filepath.Join(dir, "ts.cnf"), "-queryfile", tsq, "-inkey", filepath.Join(dir, "key.pem"),
					"-signer", filepath.Join(dir, "cert.pem"), "-chain", filepath.Join(dir, "chain.pem"), "-out", tsr},
			} {
				if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
					t.Fatalf("openssl %v: %v\n%s", args, err, out)
				}
			}
			resp, _ := os.ReadFile(tsr)
			tok, err := ParseResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256(data)
			info, err := Verify(tok, crypto.SHA256, d[:], VerifyOptions{Roots: p.RootPool()})
			if err != nil {
				t.Fatal(err)
			}
			if info.Accuracy != 2500*time.Millisecond || info.Policy.String() != "1.2.3.4.1" || info.TSAName == nil {
				t.Fatalf("info %+v", info)
			}
		})
	}
}
