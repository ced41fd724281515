package pkcs11

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	p11 "github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object classes as reported in Object.Class.
const (
	ClassCertificate = "certificate"
	ClassPrivateKey  = "private-key"
	ClassPublicKey   = "public-key"
)

// KeyID is a CKA_ID; it prints and marshals as lower-case hex.
type KeyID []byte

func (id KeyID) String() string { return hex.EncodeToString(id) }

// MarshalJSON writes the ID as a hex string.
func (id KeyID) MarshalJSON() ([]byte, error) { return json.Marshal(id.String()) }

// ParseKeyID reads a key ID written as hex, optionally with a 0x prefix or
// ':' separators ("0a1b", "0x0A1B", "0a:1b").
func ParseKeyID(s string) (KeyID, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	t = strings.ReplaceAll(t, ":", "")
	if t == "" {
		return nil, fmt.Errorf("pkcs11: key id %q: empty (want hex such as 0a1b)", s)
	}
	if len(t) > 512 {
		return nil, fmt.Errorf("pkcs11: key id: longer than 256 bytes")
	}
	id, err := hex.DecodeString(t)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: key id %q is not hex (want e.g. 0a1b or 0a:1b)", s)
	}
	return id, nil
}

// Object is a certificate or key found on a token.
type Object struct {
	Class   string `json:"class"`
	ID      KeyID  `json:"id"`
	Label   string `json:"label"`
	KeyType string `json:"key_type,omitempty"` // "RSA" or "EC" for keys
	Bits    int    `json:"bits,omitempty"`     // RSA modulus or curve size
	Curve   string `json:"curve,omitempty"`    // "P-256", ...
	CanSign bool   `json:"can_sign,omitempty"` // CKA_SIGN of a private key
	// Certificate is the parsed CKA_VALUE of a certificate (nil if it does
	// not parse).
	Certificate *x509.Certificate `json:"-"`

	// Public is the public key of a public key object, or of a certificate.
	Public any `json:"-"`

	handle p11.ObjectHandle
}

// Entry pairs the objects that share one CKA_ID: a key pair and its
// certificate.
type Entry struct {
	ID          KeyID   `json:"id"`
	Label       string  `json:"label"`
	Certificate *Object `json:"certificate,omitempty"`
	PrivateKey  *Object `json:"private_key,omitempty"`
	PublicKey   *Object `json:"public_key,omitempty"`
}

// Pair groups objects by CKA_ID (objects without an ID stand alone), in the
// order of their first appearance.
func Pair(objs []Object) []Entry {
	var out []Entry
	idx := map[string]int{}
	for i := range objs {
		o := &objs[i]
		k := string(o.ID)
		j, ok := idx[k]
		if !ok || len(o.ID) == 0 {
			out = append(out, Entry{ID: o.ID})
			j = len(out) - 1
			idx[k] = j
		}
		e := &out[j]
		var slot **Object
		switch o.Class {
		case ClassCertificate:
			slot = &e.Certificate
		case ClassPrivateKey:
			slot = &e.PrivateKey
		case ClassPublicKey:
			slot = &e.PublicKey
		default:
			continue
		}
		if *slot != nil { // same ID twice for one class: list it separately
			out = append(out, Entry{ID: o.ID})
			e = &out[len(out)-1]
			slot = map[string]**Object{ClassCertificate: &e.Certificate, ClassPrivateKey: &e.PrivateKey, ClassPublicKey: &e.PublicKey}[o.Class]
		}
		*slot = o
		if e.Label == "" {
			e.Label = o.Label
		}
	}
	return out
}

// TokenContents is what a token holds, as listed by Module.Contents.
type TokenContents struct {
	Slot    uint      `json:"slot"`
	Token   TokenInfo `json:"token"`
	LoginAs string    `json:"login"` // "user" when private objects were listed, else "public"
	Objects []Object  `json:"objects"`
}

// Contents lists the certificates and keys of the token sel selects. Private
// keys are only visible after login: with a nil pin only public objects are
// listed.
func (m *Module) Contents(ctx context.Context, sel TokenSelector, pin PINSource) (*TokenContents, error) {
	c, err := m.ctx()
	if err != nil {
		return nil, err
	}
	slot, err := m.FindToken(sel)
	if err != nil {
		return nil, err
	}
	sh, err := c.OpenSession(slot.ID, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %s: %w", slot.Token, wrap("C_OpenSession", err))
	}
	defer c.CloseSession(sh)
	tc := &TokenContents{Slot: slot.ID, Token: *slot.Token, LoginAs: "public"}
	if pin != nil {
		if err := login(ctx, c, sh, slot.ID, pin); err != nil {
			return nil, err
		}
		tc.LoginAs = "user"
	}
	objs, err := listObjects(c, sh, nil)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %s: %w", slot.Token, err)
	}
	tc.Objects = objs
	return tc, nil
}

// listObjects finds certificates, public and private keys (matching extra
// attributes, if any) and reads their attributes.
func listObjects(c *p11.Ctx, sh p11.SessionHandle, extra []*p11.Attribute) ([]Object, error) {
	var out []Object
	for _, class := range []uint{p11.CKO_CERTIFICATE, p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY} {
		tmpl := append([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class)}, extra...)
		hs, err := findObjects(c, sh, tmpl)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			o, err := readObject(c, sh, h, class)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return bytes.Compare(out[i].ID, out[j].ID) < 0 })
	return out, nil
}

func findObjects(c *p11.Ctx, sh p11.SessionHandle, tmpl []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := c.FindObjectsInit(sh, tmpl); err != nil {
		return nil, wrap("C_FindObjectsInit", err)
	}
	var all []p11.ObjectHandle
	for {
		hs, _, err := c.FindObjects(sh, 64)
		if err != nil {
			c.FindObjectsFinal(sh)
			return nil, wrap("C_FindObjects", err)
		}
		all = append(all, hs...)
		if len(hs) == 0 || len(all) > 100000 {
			break
		}
	}
	if err := c.FindObjectsFinal(sh); err != nil {
		return nil, wrap("C_FindObjectsFinal", err)
	}
	return all, nil
}

// attrs reads attributes; when the token refuses the set (one is invalid or
// sensitive) it reads them one by one and leaves out those it refuses.
func attrs(c *p11.Ctx, sh p11.SessionHandle, h p11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*p11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = p11.NewAttribute(t, nil)
	}
	out := map[uint][]byte{}
	got, err := c.GetAttributeValue(sh, h, tmpl)
	if err == nil {
		for _, a := range got {
			if a.Value != nil {
				out[a.Type] = a.Value
			}
		}
		return out, nil
	}
	if recoverable(err) {
		return nil, wrap("C_GetAttributeValue", err)
	}
	for _, t := range types {
		got, err := c.GetAttributeValue(sh, h, []*p11.Attribute{p11.NewAttribute(t, nil)})
		if err != nil {
			if recoverable(err) {
				return nil, wrap("C_GetAttributeValue", err)
			}
			continue
		}
		if len(got) == 1 && got[0].Value != nil {
			out[t] = got[0].Value
		}
	}
	return out, nil
}

func readObject(c *p11.Ctx, sh p11.SessionHandle, h p11.ObjectHandle, class uint) (Object, error) {
	o := Object{handle: h}
	switch class {
	case p11.CKO_CERTIFICATE:
		a, err := attrs(c, sh, h, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_VALUE)
		if err != nil {
			return o, err
		}
		o.Class, o.ID, o.Label = ClassCertificate, a[p11.CKA_ID], string(a[p11.CKA_LABEL])
		if cert, err := x509.ParseCertificate(a[p11.CKA_VALUE]); err == nil {
			o.Certificate = cert
			o.Public = cert.PublicKey
			o.KeyType, o.Bits, o.Curve = describeKey(cert.PublicKey)
		}
	case p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY:
		a, err := attrs(c, sh, h, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_KEY_TYPE, p11.CKA_SIGN,
			p11.CKA_MODULUS, p11.CKA_PUBLIC_EXPONENT, p11.CKA_EC_PARAMS)
		if err != nil {
			return o, err
		}
		o.Class = ClassPrivateKey
		if class == p11.CKO_PUBLIC_KEY {
			o.Class = ClassPublicKey
		}
		o.ID, o.Label = a[p11.CKA_ID], string(a[p11.CKA_LABEL])
		o.CanSign = class == p11.CKO_PRIVATE_KEY && isTrue(a[p11.CKA_SIGN])
		switch ulong(a[p11.CKA_KEY_TYPE]) {
		case p11.CKK_RSA:
			o.KeyType = "RSA"
			if n := a[p11.CKA_MODULUS]; len(n) > 0 {
				pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(a[p11.CKA_PUBLIC_EXPONENT]).Int64())}
				o.Bits = pub.N.BitLen()
				if class == p11.CKO_PUBLIC_KEY {
					o.Public = pub
				}
			}
		case p11.CKK_EC:
			o.KeyType = "EC"
			if curve, err := ParseECParams(a[p11.CKA_EC_PARAMS]); err == nil {
				o.Curve, o.Bits = curve.Params().Name, curve.Params().BitSize
				if class == p11.CKO_PUBLIC_KEY {
					if pt, err := attrs(c, sh, h, p11.CKA_EC_POINT); err == nil {
						if pub, err := ParseECPoint(curve, pt[p11.CKA_EC_POINT]); err == nil {
							o.Public = pub
						}
					}
				}
			}
		default:
			o.KeyType = "other"
		}
	}
	return o, nil
}

func isTrue(b []byte) bool { return len(b) > 0 && b[0] != 0 }

// ulong decodes a CK_ULONG attribute (native byte order: little-endian on
// the platforms we build for).
func ulong(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}

func describeKey(pub any) (kt string, bits int, curve string) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen(), ""
	case *ecdsa.PublicKey:
		return "EC", k.Curve.Params().BitSize, k.Curve.Params().Name
	}
	return "other", 0, ""
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// ECParams returns CKA_EC_PARAMS for a curve: the DER of its named-curve OID.
func ECParams(c elliptic.Curve) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	switch c {
	case elliptic.P256():
		oid = oidP256
	case elliptic.P384():
		oid = oidP384
	case elliptic.P521():
		oid = oidP521
	default:
		return nil, fmt.Errorf("pkcs11: %w: curve %s", ErrUnsupported, c.Params().Name)
	}
	return asn1.Marshal(oid)
}

// ParseECParams reads CKA_EC_PARAMS (a DER named-curve OID) into a curve.
func ParseECParams(der []byte) (elliptic.Curve, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(der, &oid)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("pkcs11: %w: CKA_EC_PARAMS is not a named-curve OID", ErrUnsupported)
	}
	switch {
	case oid.Equal(oidP256):
		return elliptic.P256(), nil
	case oid.Equal(oidP384):
		return elliptic.P384(), nil
	case oid.Equal(oidP521):
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("pkcs11: %w: curve %s", ErrUnsupported, oid)
}

// ECPoint returns CKA_EC_POINT for a public key: the uncompressed point in a
// DER OCTET STRING.
func ECPoint(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: EC point: %w", err)
	}
	return asn1.Marshal(raw)
}

// ParseECPoint reads CKA_EC_POINT: an uncompressed point, in a DER OCTET
// STRING (PKCS#11) or bare (some older tokens).
func ParseECPoint(curve elliptic.Curve, data []byte) (*ecdsa.PublicKey, error) {
	var raw []byte
	if rest, err := asn1.Unmarshal(data, &raw); err == nil && len(rest) == 0 {
		if pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw); err == nil {
			return pub, nil
		}
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, data)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: CKA_EC_POINT is not an uncompressed %s point: %w", curve.Params().Name, err)
	}
	return pub, nil
}

// trimZeros drops leading zero bytes (all of them for zero).
func trimZeros(v []byte) []byte {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	return v
}

// ecdsaDER turns the r||s signature a token returns for CKM_ECDSA into the
// ASN.1 ECDSA-Sig-Value that crypto.Signer callers expect.
func ecdsaDER(raw []byte, byteLen int) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 || (byteLen > 0 && len(raw) != 2*byteLen) {
		return nil, fmt.Errorf("pkcs11: ECDSA signature of %d bytes from the token (want r||s of 2×%d)", len(raw), byteLen)
	}
	half := len(raw) / 2
	r, s := trimZeros(raw[:half]), trimZeros(raw[half:])
	if len(r) == 0 || len(s) == 0 {
		return nil, errors.New("pkcs11: ECDSA signature from the token has r or s zero")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, v := range [][]byte{r, s} {
			b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) {
				if v[0]&0x80 != 0 {
					b.AddUint8(0) // keep the INTEGER positive
				}
				b.AddBytes(v)
			})
		}
	})
	return b.Bytes()
}
