package testcerts

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/semnat/semnat/internal/keyfile"
)

// IndexEntry is one entity as index.json lists it. Paths are relative to the
// directory holding index.json.
type IndexEntry struct {
	Name        string `json:"name"`
	Role        Role   `json:"role"`
	KeyType     string `json:"key_type"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	P12         string `json:"p12"`
	P12Password string `json:"p12_password"`
	P12PassFile string `json:"p12_password_file"` // the password again, in a 0600 file
	Chain       string `json:"chain"`
	// Extra facts, for people and tools reading the index.
	Issuer    string    `json:"issuer,omitempty"`
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	IDNP      string    `json:"idnp,omitempty"`
	IDNO      string    `json:"idno,omitempty"`
	PSS       bool      `json:"pss,omitempty"`
	CRL       string    `json:"crl,omitempty"` // CAs: the CRL written with the PKI
}

// IndexRevocation is one revoked certificate in index.json.
type IndexRevocation struct {
	Name   string    `json:"name"`
	Issuer string    `json:"issuer"`
	Serial string    `json:"serial"` // hex
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
}

// Index is the content of index.json.
type Index struct {
	Version      int               `json:"version"`
	Generated    time.Time         `json:"generated"`
	BaseURL      string            `json:"base_url"`
	TrustAnchors string            `json:"trust_anchors"`
	Entries      []IndexEntry      `json:"entries"`
	Revocations  []IndexRevocation `json:"revocations"`
}

// IndexFile and TrustAnchorsFile are the fixed names inside a PKI directory.
const (
	IndexFile        = "index.json"
	TrustAnchorsFile = "trust-anchors.pem"
	// P12PassFile, in each entry's folder, holds its bundle.p12's password
	// (mode 0600), for `semnat sign --p12-pass-file`.
	P12PassFile = "p12-password"
)

// CRL returns a DER CRL signed by ca listing the PKI's revocations of
// certificates that ca issued, valid from thisUpdate to nextUpdate.
func (p *PKI) CRL(ca *Entity, number int64, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if ca == nil || !ca.Cert.IsCA || ca.Key == nil {
		return nil, errors.New("testcerts: CRL needs a CA entity with its key")
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, r := range p.Revocations {
		if r.Issuer != ca.Name {
			continue
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: r.Serial, RevocationTime: r.Time, ReasonCode: r.Reason,
		})
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
}

// PEM encodes certificates as a PEM bundle.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// WriteDir writes the PKI to dir: one folder per entity with cert.pem,
// key.pem (PKCS#8), chain.pem and a password-protected bundle.p12; the CAs'
// CRLs under crl/; trust-anchors.pem; and index.json. Files holding keys are
// readable by the owner only.
func (p *PKI) WriteDir(dir string) (*Index, error) {
	if err := os.MkdirAll(filepath.Join(dir, "crl"), 0o755); err != nil {
		return nil, err
	}
	idx := &Index{Version: 1, Generated: p.Generated, BaseURL: p.BaseURL, TrustAnchors: TrustAnchorsFile}
	write := func(rel string, data []byte, mode os.FileMode) error {
		return os.WriteFile(filepath.Join(dir, rel), data, mode)
	}
	if err := write(TrustAnchorsFile, PEM(p.TrustAnchors()...), 0o644); err != nil {
		return nil, err
	}
	for _, e := range p.entities {
		if err := os.MkdirAll(filepath.Join(dir, e.Name), 0o755); err != nil {
			return nil, err
		}
		ent := IndexEntry{
			Name: e.Name, Role: e.Role, KeyType: string(e.KeyType),
			Cert: e.Name + "/cert.pem", Key: e.Name + "/key.pem", Chain: e.Name + "/chain.pem", P12: e.Name + "/bundle.p12",
			P12PassFile: e.Name + "/" + P12PassFile,
			Subject:     e.Cert.Subject.String(), Serial: hex.EncodeToString(e.Cert.SerialNumber.Bytes()),
			NotBefore: e.Cert.NotBefore.UTC(), NotAfter: e.Cert.NotAfter.UTC(), IDNP: e.IDNP, IDNO: e.IDNO, PSS: e.PSS,
		}
		if e.Issuer != nil {
			ent.Issuer = e.Issuer.Name
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(e.Key)
		if err != nil {
			return nil, fmt.Errorf("testcerts: %s: %w", e.Name, err)
		}
		pw := make([]byte, 12)
		if _, err := rand.Read(pw); err != nil {
			return nil, err
		}
		ent.P12Password = hex.EncodeToString(pw)
		p12, err := pkcs12.Modern.Encode(e.Key, e.Cert, e.Chain, ent.P12Password)
		if err != nil {
			return nil, fmt.Errorf("testcerts: %s: PKCS#12: %w", e.Name, err)
		}
		if err := errors.Join(
			write(ent.Cert, PEM(e.Cert), 0o644),
			write(ent.Chain, PEM(e.Chain...), 0o644),
			write(ent.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600),
			write(ent.P12, p12, 0o600),
			write(ent.P12PassFile, []byte(ent.P12Password+"\n"), 0o600),
		); err != nil {
			return nil, err
		}
		if e.Cert.IsCA {
			crl, err := p.CRL(e, 1, p.Generated, p.Generated.Add(7*24*time.Hour))
			if err != nil {
				return nil, err
			}
			ent.CRL = "crl/" + e.Name + ".crl"
			if err := errors.Join(
				write(ent.CRL, crl, 0o644),
				write(ent.CRL+".pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}), 0o644),
			); err != nil {
				return nil, err
			}
		}
		idx.Entries = append(idx.Entries, ent)
	}
	for _, r := range p.Revocations {
		idx.Revocations = append(idx.Revocations, IndexRevocation{Name: r.Name, Issuer: r.Issuer,
			Serial: hex.EncodeToString(r.Serial.Bytes()), Time: r.Time, Reason: ReasonName(r.Reason)})
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	// index.json holds the PKCS#12 passwords: owner-readable only.
	return idx, write(IndexFile, append(data, '\n'), 0o600)
}

// Load reads a PKI written by WriteDir.
func Load(dir string) (*PKI, error) {
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return nil, fmt.Errorf("testcerts: %w (is %s a directory made by `semnat testcerts generate`?)", err, dir)
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("testcerts: %s: %w", IndexFile, err)
	}
	p := &PKI{BaseURL: idx.BaseURL, Generated: idx.Generated}
	for _, ent := range idx.Entries {
		certPEM, err := os.ReadFile(filepath.Join(dir, ent.Cert))
		if err != nil {
			return nil, err
		}
		certs, err := keyfile.ParseCerts(certPEM)
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("testcerts: %s: want one certificate (%v)", ent.Cert, err)
		}
		keyPEM, err := os.ReadFile(filepath.Join(dir, ent.Key))
		if err != nil {
			return nil, err
		}
		b, _ := pem.Decode(keyPEM)
		if b == nil {
			return nil, fmt.Errorf("testcerts: %s: no PEM key", ent.Key)
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("testcerts: %s: %w", ent.Key, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("testcerts: %s: key cannot sign", ent.Key)
		}
		e := &Entity{Name: ent.Name, Role: ent.Role, KeyType: KeyType(ent.KeyType), PSS: ent.PSS, Cert: certs[0], Key: signer, IDNP: ent.IDNP, IDNO: ent.IDNO}
		if ent.Issuer != "" {
			if e.Issuer = p.byName[ent.Issuer]; e.Issuer == nil {
				return nil, fmt.Errorf("testcerts: %s: issuer %q listed after it", ent.Name, ent.Issuer)
			}
			e.Chain = chainOf(e.Issuer)
		}
		if err := p.add(e); err != nil {
			return nil, err
		}
		switch {
		case e.Role == RoleRoot && p.Root == nil:
			p.Root = e
		case e.Name == tokenCAName:
			p.TokenCA = e
		case e.Name == mobileCName:
			p.MobileCA = e
		case e.Name == untrustedCA:
			p.UntrustedRoot = e
		}
	}
	if p.Root == nil {
		return nil, errors.New("testcerts: index lists no root CA")
	}
	for _, r := range idx.Revocations {
		serial, err := hex.DecodeString(r.Serial)
		if err != nil {
			return nil, fmt.Errorf("testcerts: revocation of %s: bad serial: %w", r.Name, err)
		}
		code, err := ParseReason(r.Reason)
		if err != nil {
			return nil, err
		}
		p.Revocations = append(p.Revocations, Revocation{Name: r.Name, Issuer: r.Issuer, Serial: new(big.Int).SetBytes(serial), Time: r.Time, Reason: code})
	}
	return p, nil
}

// ErrAlreadyRevoked: AppendRevocation found the certificate already listed.
var ErrAlreadyRevoked = errors.New("testcerts: certificate already revoked")

// AppendRevocation adds r to the revocations of the PKI directory dir
// (index.json) and rewrites index.json atomically (a temporary file renamed
// over it), so that a server watching the file (`semnat ocsp serve --pki`)
// never reads half of it. Listing the same issuer and serial twice gives
// ErrAlreadyRevoked. It does not lock: run one writer at a time.
func AppendRevocation(dir string, r Revocation) error {
	if r.Serial == nil || r.Serial.Sign() < 0 || r.Issuer == "" {
		return errors.New("testcerts: a revocation needs an issuer and a serial number")
	}
	path := filepath.Join(dir, IndexFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("testcerts: %w (is %s a directory made by `semnat testcerts generate`?)", err, dir)
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return fmt.Errorf("testcerts: %s: %w", IndexFile, err)
	}
	serial := hex.EncodeToString(r.Serial.Bytes())
	for _, x := range idx.Revocations {
		if x.Issuer == r.Issuer && x.Serial == serial {
			return fmt.Errorf("%w: %s (serial %s) since %s", ErrAlreadyRevoked, x.Name, serial, x.Time.Format(time.RFC3339))
		}
	}
	idx.Revocations = append(idx.Revocations, IndexRevocation{Name: r.Name, Issuer: r.Issuer, Serial: serial,
		Time: r.Time.UTC().Truncate(time.Second), Reason: ReasonName(r.Reason)})
	out, err := json.MarshalIndent(&idx, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".index-*.json")
	if err != nil {
		return fmt.Errorf("testcerts: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := errors.Join(tmp.Chmod(0o600), writeAll(tmp, append(out, '\n')), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("testcerts: writing %s: %w", IndexFile, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("testcerts: replacing %s: %w", IndexFile, err)
	}
	return nil
}

func writeAll(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}
