package pades

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/semnat/semnat/idn"
)

// ReportVersion is the version of the JSON report schema. It changes only
// when a field changes meaning or disappears; new fields may be added
// within a version.
const ReportVersion = "semnat-verify/1"

// Indication is the main validation status (ETSI EN 319 102-1 §5.1.3),
// spelled with hyphens as SiVa does.
type Indication string

// Indications. NoSignatureFound is used only for the document (EU DSS
// spelling) when it holds no signature at all.
const (
	TotalPassed      Indication = "TOTAL-PASSED"
	TotalFailed      Indication = "TOTAL-FAILED"
	Indeterminate    Indication = "INDETERMINATE"
	NoSignatureFound Indication = "NO_SIGNATURE_FOUND"
)

// SubIndication refines TOTAL-FAILED and INDETERMINATE (EN 319 102-1
// table 5, EU DSS spelling).
type SubIndication string

// Sub-indications the verifier produces.
const (
	FormatFailure             SubIndication = "FORMAT_FAILURE"
	HashFailure               SubIndication = "HASH_FAILURE"
	SigCryptoFailure          SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                   SubIndication = "REVOKED"
	NoSigningCertificateFound SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	NoCertificateChainFound   SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	ChainConstraintsFailure   SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	CryptoConstraintsFailure  SubIndication = "CRYPTO_CONSTRAINTS_FAILURE"
	OutOfBoundsNoPOE          SubIndication = "OUT_OF_BOUNDS_NO_POE"
	RevokedNoPOE              SubIndication = "REVOKED_NO_POE"
	RevokedCANoPOE            SubIndication = "REVOKED_CA_NO_POE"
	TryLater                  SubIndication = "TRY_LATER"
	SignedDataNotFound        SubIndication = "SIGNED_DATA_NOT_FOUND"
	SigConstraintsFailure     SubIndication = "SIG_CONSTRAINTS_FAILURE"
)

// SubIndications lists every sub-indication the verifier produces.
var SubIndications = []SubIndication{FormatFailure, HashFailure, SigCryptoFailure, Revoked, NoSigningCertificateFound,
	NoCertificateChainFound, ChainConstraintsFailure, CryptoConstraintsFailure, OutOfBoundsNoPOE, RevokedNoPOE,
	RevokedCANoPOE, TryLater, SignedDataNotFound, SigConstraintsFailure}

// CheckStatus is the outcome of one building block of a signature's
// validation.
type CheckStatus string

// Check outcomes.
const (
	CheckPassed        CheckStatus = "passed"
	CheckFailed        CheckStatus = "failed"
	CheckIndeterminate CheckStatus = "indeterminate"
	CheckSkipped       CheckStatus = "skipped"
	CheckNotApplicable CheckStatus = "n/a"
)

// Report is the result of Verify. Its JSON form is the stable, versioned
// schema "semnat-verify/1":
//
//	{
//	  "version": "semnat-verify/1",
//	  "file": "contract.pdf",            // set by callers that know a name
//	  "size": 123456,                    // bytes
//	  "validationTime": RFC 3339,        // "now" or VerifyOptions.At
//	  "indication": "TOTAL-PASSED" | "TOTAL-FAILED" | "INDETERMINATE" | "NO_SIGNATURE_FOUND",
//	  "subIndication": "...",            // of the worst signature, when not passed
//	  "revisions": 3,                    // incremental-update revisions in the file
//	  "docMDP": 2,                       // DocMDP permission of a certified document (absent otherwise)
//	  "policy": "...",                   // how changes after a signature are judged (ChangePolicy)
//	  "warnings": ["..."],               // document-level remarks (hybrid xref, trailing data ...)
//	  "signatures": [ SignatureReport ]  // in file order of the signed revisions
//	}
//
// The document indication is TOTAL-FAILED if any signature failed, else
// INDETERMINATE if any is indeterminate, else TOTAL-PASSED.
type Report struct {
	Version        string        `json:"version"`
	File           string        `json:"file,omitempty"`
	Size           int64         `json:"size"`
	ValidationTime time.Time     `json:"validationTime"`
	Indication     Indication    `json:"indication"`
	SubIndication  SubIndication `json:"subIndication,omitempty"`
	Revisions      int           `json:"revisions"`
	DocMDP         int           `json:"docMDP,omitempty"`
	// Policy says how changes after a signature are judged (ChangePolicy).
	Policy     string            `json:"policy"`
	Warnings   []string          `json:"warnings,omitempty"`
	Signatures []SignatureReport `json:"signatures"`
}

// SignatureReport is the validation of one signature or document
// timestamp. JSON fields:
//
//	field               fully qualified name of the signature field
//	kind                "signature" or "timestamp" (document timestamp, ETSI.RFC3161)
//	indication          TOTAL-PASSED | TOTAL-FAILED | INDETERMINATE
//	subIndication       see SubIndication (absent when passed)
//	reasons             human-readable reasons for the indication, most important first
//	warnings            remarks that do not change the indication
//	level               "B-B" | "B-T" | "B-LT" | "B-LTA" for PAdES; "PKCS#7" for legacy
//	                    adbe.* subfilters (PKCS#7, not PAdES); "DocTimeStamp"
//	subFilter           /SubFilter of the signature dictionary
//	signer              CertificateInfo of the signer (or TSA for a document timestamp)
//	chain               certificates from the signer to the trust anchor, when found
//	claimedSigningTime  /M, as claimed by the signer (not proven)
//	timestamp           TimestampInfo of the (first valid) signature timestamp
//	bestSignatureTime   earliest time a valid timestamp proves the signature existed,
//	                    else the validation time
//	hashAlgorithm       digest algorithm of the signature
//	signatureAlgorithm  RSA-PKCS1v15, RSA-PSS, ECDSA
//	byteRange           /ByteRange as found
//	revision            index (0-based) of the revision the signature covers
//	coversWholeDocument true when no revision follows the signed one
//	changes             what each later revision changed and whether it is allowed
//	checks              outcome per building block: format, integrity, signature,
//	                    certificate, chain, revocation, timestamp, modifications
//	revocation          how the signer's revocation status was established, and in
//	                    "origin" where its data came from: "dss", "cms", "online",
//	                    "proxy" or "none" (timestamp.revocation: the same for the TSA)
//	reason, location, contactInfo, name   the dictionary's text fields
type SignatureReport struct {
	Field              string            `json:"field"`
	Kind               string            `json:"kind"`
	Indication         Indication        `json:"indication"`
	SubIndication      SubIndication     `json:"subIndication,omitempty"`
	Reasons            []string          `json:"reasons"`
	Warnings           []string          `json:"warnings,omitempty"`
	Level              string            `json:"level"`
	SubFilter          string            `json:"subFilter"`
	Signer             *CertificateInfo  `json:"signer,omitempty"`
	Chain              []CertificateInfo `json:"chain,omitempty"`
	ClaimedSigningTime *time.Time        `json:"claimedSigningTime,omitempty"`
	Timestamp          *TimestampInfo    `json:"timestamp,omitempty"`
	BestSignatureTime  time.Time         `json:"bestSignatureTime"`
	HashAlgorithm      string            `json:"hashAlgorithm,omitempty"`
	SignatureAlgorithm string            `json:"signatureAlgorithm,omitempty"`
	ByteRange          []int64           `json:"byteRange,omitempty"`
	Revision           int               `json:"revision"`
	CoversWholeDoc     bool              `json:"coversWholeDocument"`
	Changes            []Change          `json:"changes,omitempty"`
	Checks             Checks            `json:"checks"`
	Revocation         *RevocationInfo   `json:"revocation,omitempty"`
	Reason             string            `json:"reason,omitempty"`
	Location           string            `json:"location,omitempty"`
	ContactInfo        string            `json:"contactInfo,omitempty"`
	Name               string            `json:"name,omitempty"`
}

// Checks holds the outcome of each building block.
type Checks struct {
	Format        CheckStatus `json:"format"`
	Integrity     CheckStatus `json:"integrity"`
	Signature     CheckStatus `json:"signature"`
	Certificate   CheckStatus `json:"certificate"`
	Chain         CheckStatus `json:"chain"`
	Revocation    CheckStatus `json:"revocation"`
	Timestamp     CheckStatus `json:"timestamp"`
	Modifications CheckStatus `json:"modifications"`
}

// CertificateInfo describes a certificate in the report.
type CertificateInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	IDNP      string    `json:"idnp,omitempty"`
	IDNO      string    `json:"idno,omitempty"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	SHA256    string    `json:"sha256"`
}

// TimestampInfo describes a timestamp token.
type TimestampInfo struct {
	Time   time.Time        `json:"time"`
	Valid  bool             `json:"valid"`
	TSA    *CertificateInfo `json:"tsa,omitempty"`
	Reason string           `json:"reason,omitempty"` // why it is not valid
	// Origin: TimestampInSignature or TimestampInDocument.
	Origin string `json:"origin,omitempty"`
	// Revocation: how the TSA certificate's status was established.
	Revocation *RevocationInfo `json:"revocation,omitempty"`

	untrusted bool // not valid only because its chain is not trusted
}

// RevocationInfo says how revocation was checked.
type RevocationInfo struct {
	// Status: "good", "revoked", "unknown", "skipped" (not checked on
	// request) or "unavailable".
	Status string `json:"status"`
	Source string `json:"source,omitempty"` // "DSS OCSP", "CMS CRL", "online OCSP", "proxy OCSP" ...
	// Origin says where the data came from, in one word (see the
	// Origin* constants): "dss", "cms", "online", "proxy" or "none".
	Origin     string     `json:"origin,omitempty"`
	ThisUpdate *time.Time `json:"thisUpdate,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// Where revocation data came from (RevocationInfo.Origin).
const (
	OriginDSS    = "dss"    // the document's DSS (PAdES B-LT)
	OriginCMS    = "cms"    // embedded in the signature's CMS (Adobe revocationInfoArchival)
	OriginOnline = "online" // fetched by the verifier from the responder (VerifyOptions.Online)
	OriginProxy  = "proxy"  // fetched through a courier (VerifyOptions.Fetcher), checked here
	OriginNone   = "none"   // no usable data
)

// Where a timestamp came from (TimestampInfo.Origin).
const (
	TimestampInSignature = "signature" // an unsigned attribute of the signature's CMS
	TimestampInDocument  = "document"  // a document timestamp revision (ETSI.RFC3161)
)

// Change is one modification made by a revision after the signed one.
type Change struct {
	Revision int    `json:"revision"`
	Kind     string `json:"kind"` // lta, signature, form, annotation, metadata, forbidden
	Allowed  bool   `json:"allowed"`
	What     string `json:"what"`
	// Field is the fully qualified name of the form field the change is to
	// (form and signature changes), so that field locks can be checked.
	Field string `json:"field,omitempty"`
	// quiet: the change shows nothing new on the pages (a warning after
	// an approval signature, see ChangePolicy).
	quiet bool
}

func certInfo(c *x509.Certificate) *CertificateInfo {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	ci := &CertificateInfo{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(sum[:]),
	}
	for _, cand := range idnCandidates(c) {
		switch idn.KindOf(cand) {
		case idn.Person:
			if ci.IDNP == "" {
				ci.IDNP = cand
			}
		case idn.Entity:
			if ci.IDNO == "" {
				ci.IDNO = cand
			}
		}
	}
	return ci
}

// idnCandidates returns 13-digit numbers from the subject serialNumber and
// organisation (MSign puts the IDNO after the organisation name).
func idnCandidates(c *x509.Certificate) []string {
	var out []string
	texts := append([]string{c.Subject.SerialNumber}, c.Subject.Organization...)
	for _, t := range texts {
		for _, f := range strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsDigit(r) }) {
			if len(f) == 13 && idn.Valid(f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// ExitCode maps the document indication to the CLI exit code: 0 passed,
// 1 failed, 2 indeterminate or no signature.
func (r *Report) ExitCode() int {
	switch r.Indication {
	case TotalPassed:
		return 0
	case TotalFailed:
		return 1
	}
	return 2
}

// WriteText writes a human-readable report. With color, indications are
// coloured with ANSI escapes (for terminals).
func (r *Report) WriteText(w io.Writer, color bool) error {
	paint := func(ind Indication, s string) string {
		if !color {
			return s
		}
		code := "33" // yellow
		switch ind {
		case TotalPassed:
			code = "32"
		case TotalFailed:
			code = "31"
		}
		return "\x1b[1;" + code + "m" + s + "\x1b[0m"
	}
	var b strings.Builder
	name := r.File
	if name == "" {
		name = "(document)"
	}
	verdict := string(r.Indication)
	if r.SubIndication != "" {
		verdict += " / " + string(r.SubIndication)
	}
	fmt.Fprintf(&b, "%s: %s\n", name, paint(r.Indication, verdict))
	fmt.Fprintf(&b, "  %d signature(s), %d revision(s), %d bytes", len(r.Signatures), r.Revisions, r.Size)
	if r.DocMDP > 0 {
		fmt.Fprintf(&b, ", certified (DocMDP P=%d)", r.DocMDP)
	}
	b.WriteString("\n")
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", wn)
	}
	for i, s := range r.Signatures {
		v := string(s.Indication)
		if s.SubIndication != "" {
			v += " / " + string(s.SubIndication)
		}
		fmt.Fprintf(&b, "  [%d] %s %q: %s\n", i+1, s.Kind, s.Field, paint(s.Indication, v))
		if s.Signer != nil {
			fmt.Fprintf(&b, "      signer:    %s\n", s.Signer.Subject)
			if s.Signer.IDNP != "" {
				fmt.Fprintf(&b, "      IDNP:      %s\n", s.Signer.IDNP)
			}
			if s.Signer.IDNO != "" {
				fmt.Fprintf(&b, "      IDNO:      %s\n", s.Signer.IDNO)
			}
			fmt.Fprintf(&b, "      issuer:    %s\n", s.Signer.Issuer)
		}
		fmt.Fprintf(&b, "      level:     %s (%s)", s.Level, s.SubFilter)
		if s.HashAlgorithm != "" {
			fmt.Fprintf(&b, ", %s %s", s.HashAlgorithm, s.SignatureAlgorithm)
		}
		b.WriteString("\n")
		if s.ClaimedSigningTime != nil {
			fmt.Fprintf(&b, "      claimed:   %s (/M, not proven)\n", s.ClaimedSigningTime.UTC().Format(time.RFC3339))
		}
		if s.Timestamp != nil {
			st := "valid"
			if !s.Timestamp.Valid {
				st = "not valid: " + s.Timestamp.Reason
			}
			fmt.Fprintf(&b, "      timestamp: %s (%s)\n", s.Timestamp.Time.UTC().Format(time.RFC3339), st)
		}
		cov := "the whole document"
		if !s.CoversWholeDoc {
			cov = fmt.Sprintf("revision %d of %d", s.Revision+1, r.Revisions)
		}
		fmt.Fprintf(&b, "      covers:    %s\n", cov)
		if s.Revocation != nil {
			fmt.Fprintf(&b, "      revocation: %s", s.Revocation.Status)
			if s.Revocation.Source != "" {
				fmt.Fprintf(&b, " (%s)", s.Revocation.Source)
			}
			if s.Revocation.Origin != "" {
				fmt.Fprintf(&b, ", from: %s", s.Revocation.Origin)
			}
			b.WriteString("\n")
		}
		for _, c := range s.Changes {
			mark := "allowed"
			if !c.Allowed {
				mark = "NOT ALLOWED"
			}
			fmt.Fprintf(&b, "      change:    revision %d, %s (%s): %s\n", c.Revision+1, c.Kind, mark, c.What)
		}
		for _, rs := range s.Reasons {
			fmt.Fprintf(&b, "      - %s\n", rs)
		}
		for _, wn := range s.Warnings {
			fmt.Fprintf(&b, "      warning: %s\n", wn)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
