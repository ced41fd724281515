package pkcs11

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		code uint
		want error
		rec  bool
	}{
		{p11.CKR_PIN_INCORRECT, ErrPINIncorrect, false},
		{p11.CKR_PIN_LOCKED, ErrPINLocked, false},
		{p11.CKR_PIN_LEN_RANGE, ErrPINLength, false},
		{p11.CKR_TOKEN_NOT_PRESENT, ErrTokenNotPresent, true},
		{p11.CKR_DEVICE_REMOVED, ErrDeviceRemoved, true},
		{p11.CKR_SESSION_CLOSED, ErrSessionClosed, true},
		{p11.CKR_SESSION_HANDLE_INVALID, ErrSessionClosed, true},
		{p11.CKR_USER_NOT_LOGGED_IN, ErrNotLoggedIn, true},
		{p11.CKR_MECHANISM_INVALID, ErrUnsupported, false},
		{p11.CKR_GENERAL_ERROR, nil, false},
	}
	for _, c := range cases {
		err := wrap("C_Test", p11.Error(c.code))
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v is not %v", ckrName(c.code), err, c.want)
		}
		if !errors.Is(err, p11.Error(c.code)) {
			t.Errorf("%s: the pkcs11.Error is not kept", ckrName(c.code))
		}
		if recoverable(err) != c.rec {
			t.Errorf("%s: recoverable = %v", ckrName(c.code), !c.rec)
		}
		if !strings.Contains(err.Error(), ckrName(c.code)) || !strings.HasPrefix(ckrName(c.code), "CKR_") {
			t.Errorf("message %q", err)
		}
	}
	if wrap("x", nil) != nil {
		t.Error("wrap(nil)")
	}
}

func TestParseKeyID(t *testing.T) {
	for in, want := range map[string]string{"0a1b": "0a1b", "0x0A1B": "0a1b", "0a:1b": "0a1b", " 01 ": "01"} {
		id, err := ParseKeyID(in)
		if err != nil || id.String() != want {
			t.Errorf("%q: %v %v", in, id, err)
		}
	}
	for _, in := range []string{"", "0x", "xyz", "abc"} {
		if _, err := ParseKeyID(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestParsePIN(t *testing.T) {
	for in, want := range map[string]string{"1234\n": "1234", "1234\r\n": "1234", "12 34": "12 34", "1234\nrest": "1234"} {
		p, err := ParsePIN([]byte(in))
		if err != nil || string(p) != want {
			t.Errorf("%q: %q %v", in, p, err)
		}
	}
	for in, want := range map[string]error{"": ErrNoPIN, "\n": ErrNoPIN, "a\x00b": ErrNoPIN, strings.Repeat("9", 300): ErrPINLength} {
		if _, err := ParsePIN([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestPINPromptPipe(t *testing.T) {
	in := strings.NewReader("4321\nnext line\n")
	var out bytes.Buffer
	p, err := PINPrompt(in, &out).PIN(context.Background(), TokenInfo{Label: "tok", Serial: "01", PINFinalTry: true})
	if err != nil || string(p) != "4321" {
		t.Fatalf("%q %v", p, err)
	}
	if rest := in.Len(); rest != len("next line\n") {
		t.Errorf("prompt read past the line: %d bytes left", rest)
	}
	if !strings.Contains(out.String(), `"tok"`) || !strings.Contains(out.String(), "one try left") {
		t.Errorf("prompt %q", out.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := PINPrompt(in, &out).PIN(ctx, TokenInfo{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestECDSADER(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("x"))
	der, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	var r, s big.Int
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) {
		t.Fatal("parse")
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	got, err := ecdsaDER(raw, 32)
	if err != nil || !ecdsa.VerifyASN1(&k.PublicKey, d[:], got) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range [][]byte{nil, raw[:63], make([]byte, 64), raw[:48]} {
		if _, err := ecdsaDER(bad, 32); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
}

func TestECParamsPoint(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, _ := ecdsa.GenerateKey(c, rand.Reader)
		params, err := ECParams(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseECParams(params)
		if err != nil || c2 != c {
			t.Fatalf("%s: %v", c.Params().Name, err)
		}
		pt, _ := ECPoint(&k.PublicKey)
		pub, err := ParseECPoint(c, pt)
		if err != nil || !pub.Equal(&k.PublicKey) {
			t.Fatalf("%s point: %v", c.Params().Name, err)
		}
		raw, _ := k.PublicKey.Bytes()
		if pub, err := ParseECPoint(c, raw); err != nil || !pub.Equal(&k.PublicKey) {
			t.Fatalf("%s bare point: %v", c.Params().Name, err)
		}
	}
	if _, err := ParseECParams([]byte{0x06, 0x03, 0x2b, 0x65, 0x70}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Ed25519 OID: %v", err)
	}
}

func FuzzParseKeyID(f *testing.F) {
	for _, s := range []string{"0a1b", "0x0A:1B", "", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseKeyID(s)
		if err != nil {
			return
		}
		again, err := ParseKeyID(id.String())
		if err != nil || !bytes.Equal(again, id) {
			t.Fatalf("%q -> %s does not round-trip", s, id)
		}
	})
}

func FuzzParsePIN(f *testing.F) {
	for _, s := range []string{"1234\n", "", "a\r\nb", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		p, err := ParsePIN(data)
		if !bytes.Equal(orig, data) {
			t.Fatal("input modified")
		}
		if err == nil && (len(p) == 0 || bytes.ContainsAny(p, "\r\n\x00")) {
			t.Fatalf("bad PIN %q accepted", p)
		}
	})
}

func FuzzECPoint(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pt, _ := ECPoint(&k.PublicKey)
	params, _ := ECParams(elliptic.P256())
	f.Add(params, pt)
	f.Add([]byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, []byte{0x04, 0x01})
	f.Fuzz(func(t *testing.T, params, point []byte) {
		c, err := ParseECParams(params)
		if err != nil {
			return
		}
		pub, err := ParseECPoint(c, point)
		if err == nil && !c.IsOnCurve(pub.X, pub.Y) {
			t.Fatal("point off the curve accepted")
		}
	})
}

func FuzzECDSADER(f *testing.F) {
	f.Add(make([]byte, 64), 32)
	f.Add([]byte{1, 2}, 1)
	f.Fuzz(func(t *testing.T, raw []byte, n int) {
		der, err := ecdsaDER(raw, n%100)
		if err != nil {
			return
		}
		var r, s big.Int
		in := cryptobyte.String(der)
		var seq cryptobyte.String
		if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() || !in.Empty() {
			t.Fatalf("bad DER %x", der)
		}
		half := len(raw) / 2
		if r.Cmp(new(big.Int).SetBytes(raw[:half])) != 0 || s.Cmp(new(big.Int).SetBytes(raw[half:])) != 0 {
			t.Fatal("r/s changed")
		}
	})
}
