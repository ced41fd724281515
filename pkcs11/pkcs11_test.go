package pkcs11_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pkcs11"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/testcerts"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

// requireTool returns the path of an external oracle. Outside CI a missing
// tool skips the test; in CI (CI=true) it fails it.
func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

// countingPIN returns a PIN source that counts how often it is asked.
func countingPIN(pins ...string) (pkcs11.PINSource, *atomic.Int32) {
	var n atomic.Int32
	return pkcs11.PINFunc(func(context.Context, pkcs11.TokenInfo) ([]byte, error) {
		i := int(n.Add(1)) - 1
		if i >= len(pins) {
			i = len(pins) - 1
		}
		return []byte(pins[i]), nil
	}), &n
}

func opensslVerify(t *testing.T, cert *x509.Certificate, data, sig []byte, pss bool, hash string) {
	t.Helper()
	openssl := requireTool(t, "openssl")
	dir := t.TempDir()
	spki, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o600)
	os.WriteFile(filepath.Join(dir, "data"), data, 0o600)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o600)
	args := []string{"dgst", "-" + hash, "-verify", pub, "-signature", filepath.Join(dir, "sig")}
	if pss {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto")
	}
	args = append(args, filepath.Join(dir, "data"))
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

func TestSignEveryKeyType(t *testing.T) {
	pki := testcerts.New(t)
	names := []string{"person-rsa2048", "person-rsa3072", "person-p256", "person-p384", "person-pss", "seal"}
	tok := softhsmtest.New(t, names...)
	data := []byte("Contract nr. 17 din 2024, Primăria Chișinău")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			e := pki.MustGet(name)
			s := tok.Signer(t, name)
			if !s.Certificate().Equal(e.Cert) {
				t.Fatal("certificate from the token differs from the imported one")
			}
			chain := s.Chain()
			if len(chain) != len(e.Chain) || len(chain) == 0 || !chain[0].Equal(e.Chain[0]) {
				t.Fatalf("chain: got %d certs, want %v", len(chain), e.Chain)
			}
			if !bytes.Equal(s.KeyID(), tok.Keys[name]) || s.KeyLabel() != name {
				t.Errorf("key id/label %s %q", s.KeyID(), s.KeyLabel())
			}
			var _ crypto.Signer = s
			d256 := sha256.Sum256(data)
			d384 := sha512.Sum384(data)
			switch pub := s.Public().(type) {
			case *rsa.PublicKey:
				sig, err := s.Sign(rand.Reader, d256[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d256[:], sig); err != nil {
					t.Fatalf("PKCS#1 v1.5: %v", err)
				}
				opensslVerify(t, e.Cert, data, sig, false, "sha256")
				sig, err = s.Sign(rand.Reader, d384[:], crypto.SHA384)
				if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA384, d384[:], sig) != nil {
					t.Fatalf("PKCS#1 v1.5 SHA-384: %v", err)
				}
				for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 20} {
					opts := &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA256}
					sig, err := s.SignContext(context.Background(), d256[:], opts)
					if err != nil {
						t.Fatalf("PSS salt %d: %v", salt, err)
					}
					want := salt
					if salt == rsa.PSSSaltLengthAuto {
						want = (pub.N.BitLen()+6)/8 - 32 - 2
					}
					if err := rsa.VerifyPSS(pub, crypto.SHA256, d256[:], sig, &rsa.PSSOptions{SaltLength: want}); err != nil {
						t.Fatalf("PSS salt %d: %v", salt, err)
					}
					opensslVerify(t, e.Cert, data, sig, true, "sha256")
				}
				if _, err := s.Sign(rand.Reader, d256[:31], crypto.SHA256); !errors.Is(err, pkcs11.ErrUnsupported) {
					t.Errorf("short digest: %v", err)
				}
			case *ecdsa.PublicKey:
				for _, d := range [][]byte{d256[:], d384[:]} {
					h := crypto.SHA256
					if len(d) == 48 {
						h = crypto.SHA384
					}
					sig, err := s.Sign(rand.Reader, d, h)
					if err != nil {
						t.Fatal(err)
					}
					if !ecdsa.VerifyASN1(pub, d, sig) {
						t.Fatalf("ECDSA %v signature does not verify", h)
					}
					opensslVerify(t, e.Cert, data, sig, false, strings.ToLower(strings.ReplaceAll(h.String(), "-", "")))
				}
				if _, err := s.Sign(rand.Reader, d256[:], &rsa.PSSOptions{Hash: crypto.SHA256}); !errors.Is(err, pkcs11.ErrUnsupported) {
					t.Errorf("PSS with an EC key: %v", err)
				}
			default:
				t.Fatalf("public key %T", pub)
			}
		})
	}
}

func TestOpenSignerFromOptions(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600)
	t.Setenv(pkcs11.EnvModule, tok.ModulePath)
	s, err := pkcs11.OpenSigner(context.Background(), pkcs11.Options{
		SignerOptions: pkcs11.SignerOptions{Token: pkcs11.TokenSelector{Label: tok.Label}, PIN: pkcs11.PINFile(pinFile)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := sha256.Sum256([]byte("x"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("sign: %v", err)
	}
	if s.Certificate().Subject.CommonName == "" || s.Token().Serial != tok.Serial {
		t.Errorf("token %+v", s.Token())
	}
	s.Close()
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, pkcs11.ErrClosed) {
		t.Errorf("sign after close: %v", err)
	}
	// The PIN from an environment variable.
	t.Setenv("TEST_TOKEN_PIN", tok.PIN)
	src := pkcs11.PINEnv("TEST_TOKEN_PIN")
	if _, ok := os.LookupEnv("TEST_TOKEN_PIN"); ok {
		t.Error("the PIN stayed in the process environment")
	}
	s2, err := tok.Module.NewSigner(context.Background(), pkcs11.SignerOptions{Token: tok.Selector(), PIN: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Errorf("sign with the PIN read from the environment: %v", err)
	}
	s2.Close()
}

func TestKeySelection(t *testing.T) {
	pki := testcerts.New(t)
	tok := softhsmtest.New(t, "person-rsa2048", "person-p256")
	ctx := context.Background()
	open := func(o pkcs11.SignerOptions) (*pkcs11.Signer, error) {
		o.Token, o.PIN = tok.Selector(), tok.PINSource()
		s, err := tok.Module.NewSigner(ctx, o)
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, err
	}
	if _, err := open(pkcs11.SignerOptions{}); !errors.Is(err, pkcs11.ErrAmbiguous) {
		t.Errorf("two keys, no selector: %v", err)
	}
	s, err := open(pkcs11.SignerOptions{KeyID: tok.Keys["person-p256"]})
	if err != nil || !s.Certificate().Equal(pki.MustGet("person-p256").Cert) {
		t.Errorf("by id: %v", err)
	}
	s, err = open(pkcs11.SignerOptions{KeyLabel: "person-rsa2048"})
	if err != nil || !s.Certificate().Equal(pki.MustGet("person-rsa2048").Cert) {
		t.Errorf("by label: %v", err)
	}
	if _, err := open(pkcs11.SignerOptions{KeyLabel: "nobody"}); !errors.Is(err, pkcs11.ErrKeyNotFound) || !strings.Contains(err.Error(), "person-p256") {
		t.Errorf("unknown label: %v", err)
	}
	if _, err := open(pkcs11.SignerOptions{KeyLabel: "person-p256", KeyID: tok.Keys["person-rsa2048"]}); !errors.Is(err, pkcs11.ErrKeyNotFound) {
		t.Errorf("label and id of different keys: %v", err)
	}
	// The only signing certificate present is picked; a CA certificate on
	// the token is not a candidate.
	one := softhsmtest.New(t, "seal")
	s, err = one.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: pkcs11.TokenSelector{Serial: one.Serial}, PIN: one.PINSource()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.KeyLabel() != "seal" {
		t.Errorf("picked %q", s.KeyLabel())
	}
	// A person's token with a signing and an authentication certificate
	// (eID style): without a selector the signing key signs documents,
	// never the authentication key; the authentication key is still
	// there when asked for by name.
	eid := softhsmtest.New(t, "person-p256", "person-p256"+testcerts.AuthSuffix)
	eidOpts := pkcs11.SignerOptions{Token: pkcs11.TokenSelector{Serial: eid.Serial}, PIN: eid.PINSource()}
	s, err = eid.Module.NewSigner(ctx, eidOpts)
	if err != nil || !s.Certificate().Equal(pki.MustGet("person-p256").Cert) {
		t.Errorf("signing and authentication keys, no selector: %v", err)
	} else {
		s.Close()
	}
	eidOpts.KeyLabel = "person-p256" + testcerts.AuthSuffix
	if s, err = eid.Module.NewSigner(ctx, eidOpts); err != nil || !s.Certificate().Equal(pki.MustGet("person-p256"+testcerts.AuthSuffix).Cert) {
		t.Errorf("the authentication key by label: %v", err)
	} else {
		s.Close()
	}
	// Tokens that are not there.
	if _, err := tok.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: pkcs11.TokenSelector{Label: "no such token"}}); !errors.Is(err, pkcs11.ErrTokenNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	if _, err := tok.Module.NewSigner(ctx, pkcs11.SignerOptions{}); !errors.Is(err, pkcs11.ErrAmbiguous) {
		t.Errorf("several tokens, none chosen: %v", err)
	}
}

func TestModuleErrors(t *testing.T) {
	if _, err := pkcs11.Open("/nonexistent/libnothing.so"); !errors.Is(err, pkcs11.ErrModuleNotFound) {
		t.Errorf("missing module: %v", err)
	}
	bogus := filepath.Join(t.TempDir(), "bogus.so")
	os.WriteFile(bogus, []byte("not a library"), 0o600)
	if _, err := pkcs11.Open(bogus); !errors.Is(err, pkcs11.ErrModuleLoad) {
		t.Errorf("not a library: %v", err)
	}
	t.Setenv(pkcs11.EnvModule, "/nonexistent/env.so")
	if _, err := pkcs11.FindModule(""); !errors.Is(err, pkcs11.ErrModuleNotFound) || !strings.Contains(err.Error(), "/nonexistent/env.so") {
		t.Errorf("env module: %v", err)
	}
}

func TestWrongPIN(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	ctx := context.Background()
	pin, asked := countingPIN("9999")
	_, err := tok.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: tok.Selector(), PIN: pin})
	if !errors.Is(err, pkcs11.ErrPINIncorrect) {
		t.Fatalf("wrong PIN: %v", err)
	}
	var pe *pkcs11.Error
	if !errors.As(err, &pe) || pe.Code != p11.CKR_PIN_INCORRECT || pe.Op != "C_Login" {
		t.Errorf("error detail: %#v", pe)
	}
	if asked.Load() != 1 {
		t.Errorf("PIN asked %d times, want exactly once (never retried)", asked.Load())
	}
	if strings.Contains(err.Error(), "9999") {
		t.Errorf("the PIN leaked into the error: %v", err)
	}
	// SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after a failure (it never
	// locks); the error reports that state and the token listing shows it.
	if !strings.Contains(err.Error(), "few tries left") {
		t.Errorf("error does not report the token's PIN state: %v", err)
	}
	slot, err := tok.Module.FindToken(tok.Selector())
	if err != nil || !slot.Token.PINCountLow {
		t.Errorf("token flags after a wrong PIN: %+v %v", slot.Token, err)
	}
	// The prompt tells the user about it.
	var out bytes.Buffer
	prompt := pkcs11.PINPrompt(strings.NewReader(tok.PIN+"\n"), &out)
	s, err := tok.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: tok.Selector(), PIN: prompt})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(out.String(), "few tries left") || !strings.Contains(out.String(), tok.Label) || strings.Contains(out.String(), tok.PIN) {
		t.Errorf("prompt: %q", out.String())
	}
	slot, _ = tok.Module.FindToken(tok.Selector())
	if slot.Token.PINCountLow {
		t.Error("CKF_USER_PIN_COUNT_LOW still set after a good login")
	}

	// A PIN of a length the token cannot take is refused before C_Login
	// (so it costs no try).
	pin, asked = countingPIN("12")
	_, err = tok.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: tok.Selector(), PIN: pin})
	if !errors.Is(err, pkcs11.ErrPINLength) || asked.Load() != 1 {
		t.Errorf("short PIN: %v (asked %d)", err, asked.Load())
	}
	if slot, _ = tok.Module.FindToken(tok.Selector()); slot.Token.PINCountLow {
		t.Error("a refused-length PIN reached the token")
	}
	// No PIN at all.
	if _, err := tok.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: tok.Selector()}); !errors.Is(err, pkcs11.ErrNoPIN) {
		t.Errorf("nil PIN source: %v", err)
	}
	if _, err := tok.Module.NewSigner(ctx, pkcs11.SignerOptions{Token: tok.Selector(), PIN: pkcs11.PINPrompt(strings.NewReader(""), &out)}); !errors.Is(err, pkcs11.ErrNoPIN) {
		t.Errorf("prompt without input: %v", err)
	}
}

func TestConcurrentBatch(t *testing.T) {
	tok := softhsmtest.New(t, "person-rsa2048", "person-p256")
	for _, name := range []string{"person-rsa2048", "person-p256"} {
		pin, asked := countingPIN(tok.PIN)
		s, err := tok.Module.NewSigner(context.Background(), pkcs11.SignerOptions{
			Token: tok.Selector(), KeyLabel: name, PIN: pin, MaxSessions: 3})
		if err != nil {
			t.Fatal(err)
		}
		const workers, each = 6, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					d := sha256.Sum256([]byte(fmt.Sprintf("document %d/%d", w, i)))
					sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
					if err == nil {
						switch pub := s.Public().(type) {
						case *rsa.PublicKey:
							err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
						case *ecdsa.PublicKey:
							if !ecdsa.VerifyASN1(pub, d[:], sig) {
								err = errors.New("ECDSA signature does not verify")
							}
						}
					}
					if err != nil {
						errs <- fmt.Errorf("worker %d doc %d: %w", w, i, err)
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if asked.Load() != 1 {
			t.Errorf("%s: PIN asked %d times for one batch, want 1", name, asked.Load())
		}
		slot, _ := tok.Module.FindToken(tok.Selector())
		if slot.Token == nil {
			t.Fatal("token gone")
		}
		s.Close()
	}
}

// closeAllSessions does what a token removal does to this process's
// sessions: C_CloseAllSessions on the slot, which also logs the user out.
func closeAllSessions(t *testing.T, tok *softhsmtest.Token) {
	t.Helper()
	slot, err := tok.Module.FindToken(tok.Selector())
	if err != nil {
		t.Fatal(err)
	}
	raw := p11.New(tok.ModulePath)
	if raw == nil {
		t.Fatal("cannot load the module")
	}
	if err := raw.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	if err := raw.CloseAllSessions(slot.ID); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverAfterSessionsClosed(t *testing.T) {
	tok := softhsmtest.New(t, "person-rsa2048")
	pin, asked := countingPIN(tok.PIN)
	s, err := tok.Module.NewSigner(context.Background(), pkcs11.SignerOptions{Token: tok.Selector(), PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := sha256.Sum256([]byte("before"))
	sign := func() error {
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return err
		}
		return rsa.VerifyPKCS1v15(s.Public().(*rsa.PublicKey), crypto.SHA256, d[:], sig)
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	closeAllSessions(t, tok)
	// In parallel: every goroutine hits the closed session; one recovers.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sign(); err != nil {
				t.Errorf("after the sessions were closed: %v", err)
			}
		}()
	}
	wg.Wait()
	if asked.Load() != 2 {
		t.Errorf("PIN asked %d times, want 2 (open + one re-login)", asked.Load())
	}

	// A re-login that fails stops the Signer: it never tries the PIN again.
	s.Close()
	closeAllSessions(t, tok) // logged out: the next Signer asks the PIN
	bad, badAsked := countingPIN(tok.PIN, "0000")
	s2, err := tok.Module.NewSigner(context.Background(), pkcs11.SignerOptions{Token: tok.Selector(), PIN: bad})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	closeAllSessions(t, tok)
	for i := 0; i < 3; i++ {
		_, err := s2.Sign(rand.Reader, d[:], crypto.SHA256)
		if !errors.Is(err, pkcs11.ErrPINIncorrect) {
			t.Fatalf("sign %d after a failed re-login: %v", i, err)
		}
	}
	if badAsked.Load() != 2 {
		t.Errorf("PIN asked %d times, want 2", badAsked.Load())
	}
}

func TestImportTwice(t *testing.T) {
	pki := testcerts.New(t)
	tok := softhsmtest.New(t, "person-p384")
	_, err := tok.Module.Import(context.Background(), pkcs11.ImportOptions{
		Token: tok.Selector(), PIN: tok.PINSource(), Key: pki.MustGet("person-p384").Key, Certificate: pki.MustGet("person-p384").Cert})
	if !errors.Is(err, pkcs11.ErrExists) {
		t.Errorf("second import: %v", err)
	}
	_, err = tok.Module.Import(context.Background(), pkcs11.ImportOptions{
		Token: tok.Selector(), PIN: tok.PINSource(), Key: pki.MustGet("person-p256").Key, Certificate: pki.MustGet("person-p384").Cert})
	if !errors.Is(err, pkcs11.ErrKeyNotFound) {
		t.Errorf("key and certificate that do not match: %v", err)
	}
}

// pkcs11ToolObjects parses `pkcs11-tool -O` into sorted "class label id" rows.
func pkcs11ToolObjects(out string) []string {
	var rows []string
	var class, label, id string
	flush := func() {
		if class != "" {
			rows = append(rows, class+" "+label+" "+id)
		}
		class, label, id = "", "", ""
	}
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "Certificate Object"):
			flush()
			class = pkcs11.ClassCertificate
		case strings.HasPrefix(l, "Private Key Object"):
			flush()
			class = pkcs11.ClassPrivateKey
		case strings.HasPrefix(l, "Public Key Object"):
			flush()
			class = pkcs11.ClassPublicKey
		case strings.HasPrefix(l, "Data object") || strings.HasPrefix(l, "Secret Key Object"):
			flush()
		case strings.HasPrefix(l, "label:"):
			label = strings.TrimSpace(strings.TrimPrefix(l, "label:"))
		case strings.HasPrefix(l, "ID:"):
			id = strings.TrimSpace(strings.TrimPrefix(l, "ID:"))
		}
	}
	flush()
	sort.Strings(rows)
	return rows
}

func TestListingMatchesPkcs11Tool(t *testing.T) {
	requireTool(t, "pkcs11-tool")
	tok := softhsmtest.New(t, "person-rsa2048", "person-p256", "seal")
	ctx := context.Background()

	// Slots and tokens: label, serial, manufacturer, model, flags.
	out, err := tok.Command("pkcs11-tool", "--module", tok.ModulePath, "-L").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool -L: %v\n%s", err, out)
	}
	slot, err := tok.Module.FindToken(tok.Selector())
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	i := strings.Index(text, "token label        : "+tok.Label)
	if i < 0 {
		t.Fatalf("pkcs11-tool does not list token %q:\n%s", tok.Label, text)
	}
	block := text[i:]
	if j := strings.Index(block, "\nSlot "); j > 0 {
		block = block[:j]
	}
	for _, want := range []string{
		"serial num         : " + slot.Token.Serial,
		"token manufacturer : " + slot.Token.Manufacturer,
		"token model        : " + slot.Token.Model,
		"login required", "PIN initialized",
	} {
		if !strings.Contains(block, want) {
			t.Errorf("pkcs11-tool block lacks %q (ours: %+v):\n%s", want, slot.Token, block)
		}
	}
	if !slot.Token.LoginRequired || !slot.Token.UserPINSet || !slot.Token.Initialized {
		t.Errorf("flags: %+v", slot.Token)
	}

	// Objects, without and with login.
	for _, withLogin := range []bool{false, true} {
		args := []string{"--module", tok.ModulePath, "--token-label", tok.Label, "-O"}
		var pin pkcs11.PINSource
		if withLogin {
			args = append(args, "--login", "--pin", tok.PIN)
			pin = tok.PINSource()
		}
		out, err := tok.Command("pkcs11-tool", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool -O: %v\n%s", err, out)
		}
		theirs := pkcs11ToolObjects(string(out))
		tc, err := tok.Module.Contents(ctx, tok.Selector(), pin)
		if err != nil {
			t.Fatal(err)
		}
		var ours []string
		privates := 0
		for _, o := range tc.Objects {
			ours = append(ours, o.Class+" "+o.Label+" "+o.ID.String())
			if o.Class == pkcs11.ClassPrivateKey {
				privates++
			}
		}
		sort.Strings(ours)
		if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
			t.Errorf("login=%v: objects differ\nours:\n%s\npkcs11-tool:\n%s", withLogin, strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
		}
		if withLogin != (privates == 3) || (!withLogin && privates != 0) {
			t.Errorf("login=%v: %d private keys listed", withLogin, privates)
		}
		// 3 key pairs + token-ca, each pairing by CKA_ID.
		entries := pkcs11.Pair(tc.Objects)
		if len(entries) != 4 {
			t.Errorf("%d entries, want 4", len(entries))
		}
		for _, e := range entries {
			if e.Certificate == nil || e.Certificate.Certificate == nil {
				t.Errorf("entry %s without certificate", e.ID)
				continue
			}
			if !e.Certificate.Certificate.IsCA && (e.PublicKey == nil || (withLogin && e.PrivateKey == nil)) {
				t.Errorf("entry %s (%s) not paired: %+v", e.ID, e.Label, e)
			}
		}
	}
}

// lockedCopy copies a SoftHSM2 token's directory into a new token
// directory and sets CKF_USER_PIN_LOCKED in its stored token flags.
// SoftHSM2 never locks a PIN by itself (it only raises
// CKF_USER_PIN_COUNT_LOW) but reports the stored flag. The flags are the CK_ULONG attribute CKA_OS_TOKENFLAGS
// (0x8000534B) of token.object: type(8) kind(8)=2 value(8), big-endian.
func lockedCopy(t *testing.T, tok *softhsmtest.Token) (conf string) {
	t.Helper()
	src := ""
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(tok.Conf), "tokens", "*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "token.object"))
		if err == nil && bytes.Contains(b, []byte(tok.Serial)) {
			src = d
		}
	}
	if src == "" {
		t.Fatalf("token directory of %s not found", tok.Serial)
	}
	dst := t.TempDir()
	tdir := filepath.Join(dst, "tokens", filepath.Base(src))
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(src)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if f.Name() == "token.object" {
			tag := []byte{0, 0, 0, 0, 0x80, 0, 0x53, 0x4b, 0, 0, 0, 0, 0, 0, 0, 2}
			i := bytes.Index(b, tag)
			if i < 0 || len(b) < i+24 {
				testtool.Unavailable(t, "SoftHSM2's token file format is not the one this test knows; cannot lock the PIN", "teach lockedCopy the token.object layout of this SoftHSM2 version")
			}
			v := b[i+16 : i+24]
			v[5] |= 0x04 // CKF_USER_PIN_LOCKED = 0x00040000
		}
		if err := os.WriteFile(filepath.Join(tdir, f.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf = filepath.Join(dst, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dst, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	return conf
}

// TestLockedPIN runs in a child process of the test binary, since a
// process loads SoftHSM2's configuration only once.
func TestLockedPIN(t *testing.T) {
	if os.Getenv("SEMNAT_TEST_LOCKED_CHILD") != "" {
		m, err := pkcs11.Open(os.Getenv("SEMNAT_TEST_MODULE"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		slot, err := m.FindToken(pkcs11.TokenSelector{})
		if err != nil {
			t.Fatal(err)
		}
		if !slot.Token.PINLocked {
			t.Fatalf("token flags do not show the PIN locked: %+v", slot.Token)
		}
		pin, asked := countingPIN(softhsmtest.UserPIN)
		_, err = m.NewSigner(context.Background(), pkcs11.SignerOptions{PIN: pin})
		if !errors.Is(err, pkcs11.ErrPINLocked) || !strings.Contains(err.Error(), "SO PIN") {
			t.Fatalf("locked token: %v", err)
		}
		if asked.Load() != 0 {
			t.Fatal("the PIN was asked for a locked token")
		}
		_, err = m.Contents(context.Background(), pkcs11.TokenSelector{}, pin)
		if !errors.Is(err, pkcs11.ErrPINLocked) {
			t.Fatalf("contents with login on a locked token: %v", err)
		}
		return
	}
	tok := softhsmtest.New(t, "person-p256")
	conf := lockedCopy(t, tok)
	// pkcs11-tool, as the independent reader, sees the flag too. (SoftHSM2
	// 2.6 reports the flag but still accepts C_Login: the Signer refuses a
	// token flagged locked before asking for or sending a PIN, and maps a
	// CKR_PIN_LOCKED from C_Login, from a real token, to ErrPINLocked; see
	// TestErrorMapping.)
	cmd := exec.Command(testtool.Require(t, "pkcs11-tool"), "--module", tok.ModulePath, "-L")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "user PIN locked") {
		t.Errorf("pkcs11-tool -L on the locked copy: %v\n%s", err, out)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^TestLockedPIN$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf, "SEMNAT_TEST_LOCKED_CHILD=1", "SEMNAT_TEST_MODULE="+tok.ModulePath)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
