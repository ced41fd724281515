// Package pades signs PDF documents with PAdES baseline signatures
// (ETSI EN 319 142-1: B-B, B-T, B-LT, B-LTA) and verifies them.
//
// Signing appends one incremental update to the untouched original bytes:
// a signature dictionary whose /Contents holds a CMS SignedData
// (SubFilter ETSI.CAdES.detached) over the /ByteRange. The original is read
// through an io.ReaderAt and streamed, never held in memory, so memory stays
// flat whatever the file size. The private-key operation goes through a
// Signer: a software key, a PKCS#11 token, a phone, or, with the two-phase
// Prepare/Complete API, a party that answers in another request.
package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"strings"

	"github.com/semnat/semnat/pades/pdf"
)

// Signer is what signs: a crypto.Signer with its certificate and chain.
// Packages pkcs11 and mobileid provide Signers; KeySigner wraps a key.
type Signer interface {
	crypto.Signer
	// Certificate is the signer's certificate.
	Certificate() *x509.Certificate
	// Chain holds the intermediate CA certificates, issuer first, root
	// excluded (a root given here is left out of the signature).
	Chain() []*x509.Certificate
}

// ContextSigner is implemented by slow or remote signers (tokens, phones)
// that honour cancellation. Sign prefers it when present.
type ContextSigner interface {
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// RemoteSigner marks signers that cannot cheaply sign twice (a phone asks
// its user each time): the signer reserves a generous /Contents placeholder
// for them instead of retrying with a larger one.
type RemoteSigner interface {
	Remote() bool
}

// KeySigner is a Signer over an in-memory key (a PKCS#12 file, a PEM key).
type KeySigner struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Inter []*x509.Certificate
}

// NewKeySigner returns a Signer for key with cert and its intermediates.
func NewKeySigner(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) *KeySigner {
	return &KeySigner{Key: key, Cert: cert, Inter: chain}
}

func (k *KeySigner) Public() crypto.PublicKey { return k.Key.Public() }
func (k *KeySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.Key.Sign(r, digest, opts)
}
func (k *KeySigner) Certificate() *x509.Certificate { return k.Cert }
func (k *KeySigner) Chain() []*x509.Certificate     { return k.Inter }

// Timestamper obtains RFC 3161 timestamp tokens (package tsa's client is
// one). Timestamp returns the DER TimeStampToken (a CMS ContentInfo) whose
// message imprint is digest, computed with h.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
}

// RevocationSource provides the validation data B-LT stores in the /DSS:
// DER OCSP responses and CRLs proving that cert (issued by issuer) is not
// revoked. Package ocsp's client is one.
type RevocationSource interface {
	Revocation(ctx context.Context, cert, issuer *x509.Certificate) (ocsps [][]byte, crls [][]byte, err error)
}

// Errors callers test with errors.Is.
var (
	ErrEncrypted    = errors.New("pades: the PDF is encrypted with a security handler semnat does not implement (only the standard password handler is); decrypt it first (e.g. qpdf --decrypt)")
	ErrNotPermitted = errors.New("pades: the encrypted PDF's permissions (/P) do not allow this signature; give the owner password to sign it")
	// ErrPasswordRequired and ErrWrongPassword are the pdf package's: the
	// PDF is encrypted with a user password (Options.Password, or
	// VerifyOptions.PDF.Password).
	ErrPasswordRequired   = pdf.ErrPasswordRequired
	ErrWrongPassword      = pdf.ErrWrongPassword
	ErrDamaged            = errors.New("pades: the PDF's cross-reference structure is damaged; refusing to sign a file that needs repair (rewrite it first, e.g. qpdf in.pdf out.pdf)")
	ErrCertifiedNoChanges = errors.New("pades: the document is certified with no changes allowed (DocMDP P=1); it cannot be signed again")
	ErrAlreadyCertified   = errors.New("pades: a certification signature must be the first signature, and the document already has one or more signatures")
	ErrFieldNotFound      = errors.New("pades: signature field not found")
	ErrFieldSigned        = errors.New("pades: the signature field is already signed")
	ErrFieldLocked        = errors.New("pades: the signature field is locked by an earlier signature")
	ErrPlaceholderSmall   = errors.New("pades: the signature does not fit the reserved /Contents space")
	ErrNeedTimestamper    = errors.New("pades: this level needs a timestamp authority (set a TSA URL)")
	ErrNeedRevocation     = errors.New("pades: B-LT and B-LTA need a revocation source (OCSP/CRL)")
	ErrOriginalChanged    = errors.New("pades: the input changed while signing (its bytes no longer match what was hashed)")
	ErrNotPDF             = errors.New("pades: not a PDF file")
)

// notPDFError says once, plainly, that an input is not a PDF (or not one
// that can be read), with why: errors.Is finds ErrNotPDF and the pdf
// package's error it wraps.
type notPDFError struct{ err error }

// NotPDF wraps an error of pdf.Open that makes the input unreadable as a
// PDF in an error that says so once, plainly (errors.Is: ErrNotPDF).
func NotPDF(err error) error { return &notPDFError{err} }

func (e *notPDFError) Error() string {
	why := strings.TrimPrefix(e.err.Error(), pdf.ErrNotPDF.Error()+": ")
	return "not a PDF file (" + strings.TrimPrefix(why, "pdf: ") + ")"
}

func (e *notPDFError) Is(target error) bool { return target == ErrNotPDF }
func (e *notPDFError) Unwrap() error        { return e.err }
