// Package testcerts generates a realistic, Moldova-shaped test PKI on demand:
// a root CA, a "token" CA for USB-token certificates, a "mobile signature"
// CA, timestamping and OCSP responder certificates, person and organisation
// certificates carrying IDNP/IDNO, and the negative cases a verifier must
// reject (revoked, expired, not yet valid, wrong key usage, untrusted root).
//
// Nothing is committed to the repository: keys are generated when asked for.
// Go tests call New(t), which generates once per test binary; the CLI calls
// Generate and WriteDir; servers read a written directory back with Load.
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/semnat/semnat/idn"
)

// Role says what a generated entity is for. The values are the ones written
// to index.json.
type Role string

const (
	RoleRoot        Role = "root"
	RoleCA          Role = "ca"
	RolePerson      Role = "person"
	RoleSeal        Role = "seal"
	RoleTSA         Role = "tsa"
	RoleOCSP        Role = "ocsp"
	RoleRevoked     Role = "revoked"
	RoleExpired     Role = "expired"
	RoleNotYetValid Role = "notyetvalid"
	RoleBadUsage    Role = "badusage"
	RoleUntrusted   Role = "untrusted"
	RoleMobile      Role = "mobile"
)

// KeyType names a key algorithm and size.
type KeyType string

const (
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	RSA4096 KeyType = "rsa4096"
	P256    KeyType = "p256"
	P384    KeyType = "p384"
)

// NewKey generates a private key of type kt.
func NewKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case P256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("testcerts: unknown key type %q (want rsa2048, rsa3072, rsa4096, p256 or p384)", kt)
}

// KeyTypeOf tells the KeyType of a public key, or "" if it is none of ours.
func KeyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return P256
		case elliptic.P384():
			return P384
		}
	}
	return ""
}

// Entity is one generated certificate with its private key.
type Entity struct {
	Name    string
	Role    Role
	KeyType KeyType
	// PSS marks a signer meant to sign with RSA-PSS (its certificate is also
	// issued with an RSA-PSS signature).
	PSS  bool
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the intermediate CA certificates, immediate issuer first,
	// root excluded. Empty for roots and for certificates issued by a root.
	Chain []*x509.Certificate
	// Issuer is the entity that issued Cert (nil for self-signed roots).
	Issuer *Entity
	// IDNP or IDNO carried in the subject, if any.
	IDNP, IDNO string
}

// Revocation records a revoked certificate.
type Revocation struct {
	Name   string    // entity name
	Issuer string    // issuing CA's entity name
	Serial *big.Int  //
	Time   time.Time // revocation time
	Reason int       // CRLReason code (RFC 5280 §5.3.1)
}

// Reason codes (RFC 5280 §5.3.1).
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

var reasonNames = map[int]string{
	ReasonUnspecified: "unspecified", ReasonKeyCompromise: "keyCompromise", ReasonCACompromise: "cACompromise",
	ReasonAffiliationChanged: "affiliationChanged", ReasonSuperseded: "superseded",
	ReasonCessationOfOperation: "cessationOfOperation", ReasonCertificateHold: "certificateHold",
	ReasonRemoveFromCRL: "removeFromCRL", ReasonPrivilegeWithdrawn: "privilegeWithdrawn", ReasonAACompromise: "aACompromise",
}

// ReasonName returns the RFC 5280 name of a CRLReason code.
func ReasonName(code int) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", code)
}

// ParseReason accepts an RFC 5280 reason name (case-insensitive) or its code.
func ParseReason(s string) (int, error) {
	for c, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return c, nil
		}
	}
	var c int
	if _, err := fmt.Sscanf(s, "%d", &c); err == nil {
		if _, ok := reasonNames[c]; ok {
			return c, nil
		}
	}
	names := make([]string, 0, len(reasonNames))
	for c := 0; c <= 10; c++ {
		if n, ok := reasonNames[c]; ok {
			names = append(names, n)
		}
	}
	return 0, fmt.Errorf("unknown revocation reason %q (want one of %s)", s, strings.Join(names, ", "))
}

// PKI is a generated test PKI.
type PKI struct {
	// BaseURL is the prefix of the AIA and CRL distribution point URLs.
	BaseURL string
	// Generated is the reference time the validity periods are built around.
	Generated time.Time

	Root          *Entity
	TokenCA       *Entity
	MobileCA      *Entity
	UntrustedRoot *Entity

	entities    []*Entity
	byName      map[string]*Entity
	Revocations []Revocation
}

// DefaultBaseURL is where `semnat serve --demo` listens by default; AIA and
// CRL URLs of a PKI generated without a base URL point there.
const DefaultBaseURL = "http://127.0.0.1:8480"

// URL layout below BaseURL, shared with the servers that serve them.
const (
	OCSPPath    = "/ocsp"          // OCSP responder (POST, or GET OCSPPath/<base64>)
	CAPathFmt   = "/ca/%s.crt"     // caIssuers: DER certificate of CA <name>
	CRLPathFmt  = "/crl/%s.crl"    // CRL distribution point of CA <name>
	TSAPath     = "/tsa"           // RFC 3161 timestamp authority
	rootCAName  = "root"           //
	tokenCAName = "token-ca"       //
	mobileCName = "mobile-ca"      //
	untrustedCA = "untrusted-root" //
)

// OCSPURL, CAIssuerURL and CRLURL give the URLs this PKI's certificates carry.
func (p *PKI) OCSPURL() string                  { return p.BaseURL + OCSPPath }
func (p *PKI) CAIssuerURL(caName string) string { return p.BaseURL + fmt.Sprintf(CAPathFmt, caName) }
func (p *PKI) CRLURL(caName string) string      { return p.BaseURL + fmt.Sprintf(CRLPathFmt, caName) }

// Entities lists every entity, in generation order (CAs before what they issue).
func (p *PKI) Entities() []*Entity { return append([]*Entity(nil), p.entities...) }

// Get returns the entity called name, or nil.
func (p *PKI) Get(name string) *Entity { return p.byName[name] }

// MustGet returns the entity called name and panics if there is none; for
// tests, where a missing name is a programming error.
func (p *PKI) MustGet(name string) *Entity {
	e := p.byName[name]
	if e == nil {
		panic("testcerts: no entity named " + name)
	}
	return e
}

// ByRole lists the entities with the given role.
func (p *PKI) ByRole(r Role) []*Entity {
	var out []*Entity
	for _, e := range p.entities {
		if e.Role == r {
			out = append(out, e)
		}
	}
	return out
}

// CAs lists the certification authorities (roots and intermediates, the
// untrusted root included).
func (p *PKI) CAs() []*Entity {
	var out []*Entity
	for _, e := range p.entities {
		if e.Cert.IsCA {
			out = append(out, e)
		}
	}
	return out
}

// TrustAnchors returns the trusted roots (the untrusted root is not one).
func (p *PKI) TrustAnchors() []*x509.Certificate { return []*x509.Certificate{p.Root.Cert} }

// RootPool returns a pool holding the trust anchors.
func (p *PKI) RootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range p.TrustAnchors() {
		pool.AddCert(c)
	}
	return pool
}

// IntermediatePool returns a pool holding every intermediate CA certificate.
func (p *PKI) IntermediatePool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, e := range p.CAs() {
		if e.Issuer != nil {
			pool.AddCert(e.Cert)
		}
	}
	return pool
}

// IsRevoked tells whether the entity's certificate is in the revocation list.
func (p *PKI) IsRevoked(e *Entity) (Revocation, bool) {
	for _, r := range p.Revocations {
		if r.Serial.Cmp(e.Cert.SerialNumber) == 0 && r.Issuer == e.Issuer.Name {
			return r, true
		}
	}
	return Revocation{}, false
}

// Options tune Generate.
type Options struct {
	// BaseURL prefixes the OCSP, caIssuers and CRL URLs; DefaultBaseURL if empty.
	BaseURL string
	// Now is the reference time (time.Now() if zero).
	Now time.Time
}

// Well-known OIDs.
var (
	oidGivenName              = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname                = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidTitle                  = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	// OIDOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
	OIDOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	// OIDTestPolicy is the certificate policy of the test signing certificates
	// (an arc under the private-enterprise "example" number, never a real one).
	OIDTestPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 498, 1, 1}
)

// Subject describes an end-entity certificate to issue.
type Subject struct {
	CommonName   string
	GivenName    string
	Surname      string
	IDNP         string // person: subject serialNumber
	Organization string // organisation name; the IDNO is appended, MSign style
	IDNO         string
	Unit         string
	Title        string
	Email        string
}

func (s Subject) name() pkix.Name {
	n := pkix.Name{CommonName: s.CommonName, Country: []string{"MD"}, SerialNumber: s.IDNP}
	if s.Organization != "" {
		o := s.Organization
		if s.IDNO != "" {
			o += " " + s.IDNO
		}
		n.Organization = []string{o}
	}
	if s.Unit != "" {
		n.OrganizationalUnit = []string{s.Unit}
	}
	if s.GivenName != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidGivenName, Value: s.GivenName})
	}
	if s.Surname != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidSurname, Value: s.Surname})
	}
	if s.Title != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidTitle, Value: s.Title})
	}
	return n
}

// Profile is what kind of end-entity certificate to issue.
type Profile int

const (
	ProfileSigning      Profile = iota // digitalSignature + nonRepudiation, emailProtection EKU
	ProfileTSA                         // digitalSignature, critical EKU timeStamping
	ProfileOCSP                        // digitalSignature, EKU OCSPSigning, ocsp-nocheck
	ProfileAuth                        // digitalSignature, clientAuth EKU (mobile authentication keys)
	ProfileEncipherment                // keyEncipherment only: the "wrong key usage" case
)

// IssueRequest asks a CA of the PKI for a certificate.
type IssueRequest struct {
	Name      string // entity name (unique)
	Role      Role
	Issuer    *Entity
	KeyType   KeyType
	Key       crypto.Signer // optional: use this key instead of generating one
	PSS       bool
	Subject   Subject
	Profile   Profile
	NotBefore time.Time // zero: Generated - 30 days
	NotAfter  time.Time // zero: Generated + 2 years
}

func randomSerial() (*big.Int, error) {
	// 128 random bits, positive, never zero (RFC 5280 §4.1.2.2 allows 20 octets).
	max := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return nil, err
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

func (p *PKI) newTemplate(name pkix.Name, nb, na time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{SerialNumber: serial, Subject: name, NotBefore: nb, NotAfter: na}, nil
}

func (p *PKI) aia(t *x509.Certificate, issuer *Entity) {
	t.OCSPServer = []string{p.OCSPURL()}
	t.IssuingCertificateURL = []string{p.CAIssuerURL(issuer.Name)}
	t.CRLDistributionPoints = []string{p.CRLURL(issuer.Name)}
}

func signatureAlgorithmFor(issuerKey crypto.Signer, pss bool) x509.SignatureAlgorithm {
	switch k := issuerKey.Public().(type) {
	case *rsa.PublicKey:
		if pss {
			return x509.SHA256WithRSAPSS
		}
		if k.N.BitLen() >= 4096 {
			return x509.SHA384WithRSA
		}
		return x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return x509.ECDSAWithSHA384
		}
		return x509.ECDSAWithSHA256
	}
	return x509.UnknownSignatureAlgorithm
}

func (p *PKI) add(e *Entity) error {
	if p.byName == nil {
		p.byName = map[string]*Entity{}
	}
	if _, dup := p.byName[e.Name]; dup {
		return fmt.Errorf("testcerts: entity name %q already used", e.Name)
	}
	p.entities = append(p.entities, e)
	p.byName[e.Name] = e
	return nil
}

func chainOf(issuer *Entity) []*x509.Certificate {
	var chain []*x509.Certificate
	for c := issuer; c != nil && c.Issuer != nil; c = c.Issuer {
		chain = append(chain, c.Cert)
	}
	return chain
}

func (p *PKI) newCA(name string, issuer *Entity, kt KeyType, key crypto.Signer, cn string, nb, na time.Time) (*Entity, error) {
	subj := pkix.Name{
		CommonName:   cn,
		Organization: []string{"semnat test PKI"},
		Country:      []string{"MD"},
		ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "NTRMD-1003600096694"}},
	}
	t, err := p.newTemplate(subj, nb, na)
	if err != nil {
		return nil, err
	}
	t.IsCA = true
	t.BasicConstraintsValid = true
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	parent, parentKey := t, key
	role := RoleRoot
	if issuer != nil {
		parent, parentKey = issuer.Cert, issuer.Key
		t.MaxPathLen, t.MaxPathLenZero = 0, true
		p.aia(t, issuer)
		role = RoleCA
	} else {
		t.MaxPathLen = 1
	}
	if name == untrustedCA {
		role = RoleUntrusted
	}
	t.SignatureAlgorithm = signatureAlgorithmFor(parentKey, false)
	der, err := x509.CreateCertificate(rand.Reader, t, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("testcerts: issuing %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	e := &Entity{Name: name, Role: role, KeyType: kt, Cert: cert, Key: key, Issuer: issuer, Chain: chainOf(issuer)}
	return e, p.add(e)
}

// Issue creates an end-entity certificate from one of the PKI's CAs and adds
// it to the PKI (the mobile-signature simulator issues SIM certificates this way).
func (p *PKI) Issue(req IssueRequest) (*Entity, error) {
	if req.Issuer == nil || req.Issuer.Key == nil || !req.Issuer.Cert.IsCA {
		return nil, errors.New("testcerts: Issue needs a CA entity with its key as Issuer")
	}
	key := req.Key
	if key == nil {
		var err error
		if key, err = NewKey(req.KeyType); err != nil {
			return nil, err
		}
	}
	kt := KeyTypeOf(key.Public())
	nb, na := req.NotBefore, req.NotAfter
	if nb.IsZero() {
		nb = p.Generated.Add(-30 * 24 * time.Hour)
	}
	if na.IsZero() {
		na = p.Generated.AddDate(2, 0, 0)
	}
	t, err := p.newTemplate(req.Subject.name(), nb, na)
	if err != nil {
		return nil, err
	}
	t.BasicConstraintsValid = true
	p.aia(t, req.Issuer)
	switch req.Profile {
	case ProfileSigning:
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		t.Policies = []x509.OID{mustOID(OIDTestPolicy)}
	case ProfileAuth:
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case ProfileTSA:
		t.KeyUsage = x509.KeyUsageDigitalSignature
		// Go marks the EKU extension critical only when asked through
		// ExtraExtensions, which RFC 3161 §2.3 requires for a TSA.
		ext, err := criticalEKU(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8})
		if err != nil {
			return nil, err
		}
		t.ExtraExtensions = append(t.ExtraExtensions, ext)
	case ProfileOCSP:
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: OIDOCSPNoCheck, Value: []byte{0x05, 0x00}})
		t.OCSPServer = nil // a responder's own status is not checked (nocheck)
	case ProfileEncipherment:
		t.KeyUsage = x509.KeyUsageKeyEncipherment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	if req.Subject.Email != "" {
		t.EmailAddresses = []string{req.Subject.Email}
	}
	t.SignatureAlgorithm = signatureAlgorithmFor(req.Issuer.Key, req.PSS)
	der, err := x509.CreateCertificate(rand.Reader, t, req.Issuer.Cert, key.Public(), req.Issuer.Key)
	if err != nil {
		return nil, fmt.Errorf("testcerts: issuing %s: %w", req.Name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	role := req.Role
	if role == "" {
		role = RolePerson
	}
	e := &Entity{Name: req.Name, Role: role, KeyType: kt, PSS: req.PSS, Cert: cert, Key: key,
		Issuer: req.Issuer, Chain: chainOf(req.Issuer), IDNP: req.Subject.IDNP, IDNO: req.Subject.IDNO}
	return e, p.add(e)
}

func mustOID(o asn1.ObjectIdentifier) x509.OID {
	ints := make([]uint64, len(o))
	for i, v := range o {
		ints[i] = uint64(v)
	}
	oid, err := x509.OIDFromInts(ints)
	if err != nil {
		panic(err) // only called on package constants
	}
	return oid
}

func criticalEKU(oids ...asn1.ObjectIdentifier) (pkix.Extension, error) {
	v, err := asn1.Marshal(oids)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: v}, nil
}

// Revoke adds e to the revocation list (the servers of the ocsp package
// publish it).
func (p *PKI) Revoke(e *Entity, at time.Time, reason int) {
	p.Revocations = append(p.Revocations, Revocation{Name: e.Name, Issuer: e.Issuer.Name, Serial: e.Cert.SerialNumber, Time: at.UTC().Truncate(time.Second), Reason: reason})
}

// Generate builds the full test PKI. It takes about a second (RSA-4096 keys);
// tests should use New, which caches one PKI per test binary.
func Generate(opts Options) (*PKI, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	p := &PKI{BaseURL: base, Generated: now}

	// Generate every key up front, in parallel: key generation is the cost.
	specs := plan()
	keys := make([]crypto.Signer, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			keys[i], errs[i] = NewKey(s.kt)
			<-sem
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	day := 24 * time.Hour
	for i, s := range specs {
		var err error
		switch {
		case s.ca:
			var issuer *Entity
			if s.issuer != "" {
				issuer = p.byName[s.issuer]
			}
			var e *Entity
			e, err = p.newCA(s.name, issuer, s.kt, keys[i], s.subject.CommonName, now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0))
			if err == nil {
				switch s.name {
				case rootCAName:
					p.Root = e
				case tokenCAName:
					p.TokenCA = e
				case mobileCName:
					p.MobileCA = e
				case untrustedCA:
					p.UntrustedRoot = e
				}
			}
		default:
			req := IssueRequest{Name: s.name, Role: s.role, Issuer: p.byName[s.issuer], Key: keys[i], PSS: s.pss, Subject: s.subject, Profile: s.profile}
			switch s.role {
			case RoleExpired:
				req.NotBefore, req.NotAfter = now.AddDate(-2, 0, 0), now.Add(-day)
			case RoleNotYetValid:
				req.NotBefore, req.NotAfter = now.Add(day), now.AddDate(2, 0, 0)
			}
			var e *Entity
			e, err = p.Issue(req)
			if err == nil && s.role == RoleRevoked {
				p.Revoke(e, now.Add(-2*day), ReasonKeyCompromise)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

type spec struct {
	name    string
	role    Role
	ca      bool
	issuer  string
	kt      KeyType
	pss     bool
	profile Profile
	subject Subject
}

func person(given, surname, idnp12 string) Subject {
	idnp, err := idn.Complete(idnp12)
	if err != nil {
		panic(err) // constants below
	}
	return Subject{CommonName: given + " " + surname, GivenName: given, Surname: surname, IDNP: idnp}
}

// plan lists what Generate creates, in dependency order.
func plan() []spec {
	org := func(s Subject, name, idno12 string) Subject {
		idno, err := idn.Complete(idno12)
		if err != nil {
			panic(err)
		}
		s.Organization, s.IDNO = name, idno
		return s
	}
	return []spec{
		{name: rootCAName, ca: true, kt: RSA4096, subject: Subject{CommonName: "semnat Test Root CA"}},
		{name: tokenCAName, ca: true, issuer: rootCAName, kt: RSA3072, subject: Subject{CommonName: "semnat Test Token CA"}},
		{name: mobileCName, ca: true, issuer: rootCAName, kt: P384, subject: Subject{CommonName: "semnat Test Mobile Signature CA"}},
		{name: untrustedCA, ca: true, kt: P256, subject: Subject{CommonName: "Untrusted Test Root"}},

		{name: "tsa", role: RoleTSA, issuer: tokenCAName, kt: P256, profile: ProfileTSA, subject: Subject{CommonName: "semnat Test TSA (ECDSA)", Organization: "semnat test PKI"}},
		{name: "tsa-rsa", role: RoleTSA, issuer: tokenCAName, kt: RSA2048, profile: ProfileTSA, subject: Subject{CommonName: "semnat Test TSA (RSA)", Organization: "semnat test PKI"}},
		{name: "ocsp-root", role: RoleOCSP, issuer: rootCAName, kt: P256, profile: ProfileOCSP, subject: Subject{CommonName: "semnat Test Root CA OCSP Responder"}},
		{name: "ocsp-token", role: RoleOCSP, issuer: tokenCAName, kt: P256, profile: ProfileOCSP, subject: Subject{CommonName: "semnat Test Token CA OCSP Responder"}},
		{name: "ocsp-mobile", role: RoleOCSP, issuer: mobileCName, kt: P256, profile: ProfileOCSP, subject: Subject{CommonName: "semnat Test Mobile CA OCSP Responder"}},

		{name: "person-rsa2048", role: RolePerson, issuer: tokenCAName, kt: RSA2048, subject: person("Ion", "Popescu", "200400100001")},
		{name: "person-rsa3072", role: RolePerson, issuer: tokenCAName, kt: RSA3072, subject: person("Maria", "Rusu", "200400100002")},
		{name: "person-rsa4096", role: RolePerson, issuer: tokenCAName, kt: RSA4096, subject: person("Ștefan", "Țurcanu", "200400100003")},
		{name: "person-p256", role: RolePerson, issuer: tokenCAName, kt: P256, subject: person("Ana", "Bălănescu", "200400100004")},
		{name: "person-p384", role: RolePerson, issuer: tokenCAName, kt: P384, subject: person("Наталья", "Иванова", "200400100005")},
		{name: "person-pss", role: RolePerson, issuer: tokenCAName, kt: RSA2048, pss: true, subject: person("Vasile", "Lungu", "200400100006")},
		{name: "seal", role: RoleSeal, issuer: tokenCAName, kt: RSA2048, subject: org(Subject{CommonName: "Primăria municipiului Chișinău", Unit: "Cancelaria"}, "Primăria municipiului Chișinău", "100760100019")},
		{name: "employee", role: RolePerson, issuer: tokenCAName, kt: P256, subject: org(person("Elena", "Ceban", "200400100007"), "Centrul de Guvernare Electronică", "101060003420")},

		{name: "mobile-rsa2048", role: RoleMobile, issuer: mobileCName, kt: RSA2048, subject: person("Mihai", "Moraru", "200400100008")},
		{name: "mobile-p256", role: RoleMobile, issuer: mobileCName, kt: P256, subject: person("Doina", "Cojocaru", "200400100009")},

		{name: "revoked", role: RoleRevoked, issuer: tokenCAName, kt: P256, subject: person("Petru", "Revocat", "200400100010")},
		{name: "expired", role: RoleExpired, issuer: tokenCAName, kt: P256, subject: person("Olga", "Expirată", "200400100011")},
		{name: "notyetvalid", role: RoleNotYetValid, issuer: tokenCAName, kt: P256, subject: person("Victor", "Viitor", "200400100012")},
		{name: "badusage", role: RoleBadUsage, issuer: tokenCAName, kt: P256, profile: ProfileEncipherment, subject: person("Tudor", "Cifru", "200400100013")},
		{name: "untrusted", role: RoleUntrusted, issuer: untrustedCA, kt: P256, subject: person("Radu", "Străin", "200400100014")},

		// The portal's back office: clerks of two institutions of the demo
		// catalogue (employee certificates, O = "<institution> <IDNO>") and
		// the seal of each.
		{name: "clerk-asp", role: RolePerson, issuer: tokenCAName, kt: P256, subject: org(person("Ion", "Grosu", "200400100015"), "Agenția Servicii Publice", "100360001111")},
		{name: "clerk-sfs", role: RolePerson, issuer: tokenCAName, kt: P256, subject: org(person("Lilia", "Vrabie", "200400100016"), "Serviciul Fiscal de Stat", "100660100043")},
		{name: "seal-asp", role: RoleSeal, issuer: tokenCAName, kt: P256, subject: org(Subject{CommonName: "Agenția Servicii Publice"}, "Agenția Servicii Publice", "100360001111")},
		{name: "seal-sfs", role: RoleSeal, issuer: tokenCAName, kt: P256, subject: org(Subject{CommonName: "Serviciul Fiscal de Stat"}, "Serviciul Fiscal de Stat", "100660100043")},
	}
}
