package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/digitorus/pkcs7"
)

// Info is what a time-stamp token says.
type Info struct {
	GenTime       time.Time
	Accuracy      time.Duration
	SerialNumber  *big.Int
	Policy        asn1.ObjectIdentifier
	HashAlgorithm crypto.Hash
	HashedMessage []byte
	Nonce         *big.Int
	Ordering      bool
	// Qualified reports the ETSI EN 319 422 esi4-qtstStatement-1 statement
	// (a qualified electronic time-stamp, as claimed by the TSA).
	Qualified bool
	// TSAName is the tsa field (a GeneralName, raw), if present.
	TSAName []byte
	// Certificates sent in the token; Signer is the TSA certificate that
	// signed it (found in Certificates or in VerifyOptions.Certificates).
	Certificates []*x509.Certificate
	Signer       *x509.Certificate
	// Chains is set by Verify when trust anchors were given.
	Chains [][]*x509.Certificate
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Roots are the trust anchors (required by Verify).
	Roots *x509.CertPool
	// Intermediates help build the TSA's chain (the token's own certificates
	// are always used).
	Intermediates *x509.CertPool
	// Certificates are candidate TSA certificates for tokens that carry none.
	Certificates []*x509.Certificate
	// CurrentTime is the time the chain is validated at (default: the token's
	// genTime, which is what long-term validation needs).
	CurrentTime time.Time
	// Nonce, if set, must equal the token's nonce.
	Nonce *big.Int
	// VerifyChain, if set, replaces x509.Certificate.Verify for the TSA
	// certificate (a caller's cache of verified chains).
	VerifyChain func(cert *x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error)
}

// Verify checks that token (a DER TimeStampToken, a CMS ContentInfo) is a
// valid time-stamp of digest (computed with h) from a TSA that chains to
// opts.Roots, and returns its content.
func Verify(token []byte, h crypto.Hash, digest []byte, opts VerifyOptions) (*Info, error) {
	if opts.Roots == nil {
		return nil, fmt.Errorf("%w: no trust anchors given", ErrUntrusted)
	}
	return verify(token, h, digest, opts, true)
}

// Parse reads a token and checks its signature, content type and ESS
// signing-certificate binding, but not the chain of the TSA certificate
// nor what it time-stamps: use Verify for that.
func Parse(token []byte) (*Info, error) {
	return verify(token, 0, nil, VerifyOptions{}, false)
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedDataHead struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
}

type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

type essCertID struct {
	CertHash     []byte
	IssuerSerial asn1.RawValue `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

type signingCertificate struct {
	Certs []essCertID
}

func verify(token []byte, h crypto.Hash, digest []byte, opts VerifyOptions, full bool) (*Info, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(token, &ci); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: token ContentInfo: %v", ErrMalformed, orTrailing(err))
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: token is %v, not SignedData", ErrMalformed, ci.ContentType)
	}
	var sdh signedDataHead
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sdh); err != nil {
		return nil, fmt.Errorf("%w: SignedData: %w", ErrMalformed, err)
	}
	if !sdh.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("%w: SignedData holds %v, not TSTInfo", ErrMalformed, sdh.EncapContentInfo.EContentType)
	}
	p7, err := parsePKCS7(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(p7.Signers) != 1 {
		return nil, fmt.Errorf("%w: %d signers (a token has exactly one)", ErrMalformed, len(p7.Signers))
	}
	if len(p7.Certificates) > maxTokenCertificates {
		return nil, fmt.Errorf("%w: %d certificates in the token", ErrMalformed, len(p7.Certificates))
	}
	info := &Info{Certificates: p7.Certificates}
	p7.Certificates = append(append([]*x509.Certificate(nil), p7.Certificates...), opts.Certificates...)
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, fmt.Errorf("%w: the TSA certificate is neither in the token nor given", ErrBadSignature)
	}
	info.Signer = signer
	if err := safeVerify(p7); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	var ct asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(oidContentType, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("%w: signed content-type attribute is not id-ct-TSTInfo", ErrBadSignature)
	}
	if err := checkESS(p7, signer); err != nil {
		return nil, err
	}
	if err := checkTSACert(signer); err != nil {
		return nil, err
	}

	var tst tstInfoASN1
	if rest, err := asn1.Unmarshal(p7.Content, &tst); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: TSTInfo: %v", ErrMalformed, orTrailing(err))
	}
	if tst.Version != 1 || tst.SerialNumber == nil {
		return nil, fmt.Errorf("%w: TSTInfo version %d", ErrMalformed, tst.Version)
	}
	a := tst.Accuracy
	if a.Seconds < 0 || a.Millis < 0 || a.Millis > 999 || a.Micros < 0 || a.Micros > 999 || a.Seconds > 1<<31 {
		return nil, fmt.Errorf("%w: accuracy out of range", ErrMalformed)
	}
	info.GenTime = tst.GenTime
	info.Accuracy = time.Duration(a.Seconds)*time.Second + time.Duration(a.Millis)*time.Millisecond + time.Duration(a.Micros)*time.Microsecond
	info.SerialNumber, info.Policy, info.Nonce, info.Ordering = tst.SerialNumber, tst.Policy, tst.Nonce, tst.Ordering
	info.HashedMessage = tst.MessageImprint.HashedMessage
	info.HashAlgorithm = hashOf(tst.MessageImprint.HashAlgorithm.Algorithm)
	if info.HashAlgorithm == 0 {
		return nil, fmt.Errorf("%w: imprint hash %v", ErrUnsupportedHash, tst.MessageImprint.HashAlgorithm.Algorithm)
	}
	if len(info.HashedMessage) != info.HashAlgorithm.Size() {
		return nil, fmt.Errorf("%w: imprint of %d bytes for %v", ErrMalformed, len(info.HashedMessage), info.HashAlgorithm)
	}
	if len(tst.TSA.Bytes) > 0 {
		info.TSAName = tst.TSA.Bytes
	}
	for _, ext := range tst.Extensions {
		switch {
		case ext.Id.Equal(oidQCStatements):
			var stmts []struct {
				ID   asn1.ObjectIdentifier
				Info asn1.RawValue `asn1:"optional"`
			}
			if rest, err := asn1.Unmarshal(ext.Value, &stmts); err != nil || len(rest) > 0 {
				return nil, fmt.Errorf("%w: TSTInfo qcStatements: %v", ErrMalformed, orTrailing(err))
			}
			for _, st := range stmts {
				if st.ID.Equal(oidQTSTStatement1) {
					info.Qualified = true
				}
			}
		case ext.Critical:
			return nil, fmt.Errorf("%w: unknown critical TSTInfo extension %v", ErrMalformed, ext.Id)
		}
	}
	if !full {
		return info, nil
	}
	if h != info.HashAlgorithm || !bytes.Equal(digest, info.HashedMessage) {
		return nil, fmt.Errorf("%w: token stamps %v %x, want %v %x", ErrImprintMismatch, info.HashAlgorithm, info.HashedMessage, h, digest)
	}
	if opts.Nonce != nil && (info.Nonce == nil || info.Nonce.Cmp(opts.Nonce) != 0) {
		return nil, fmt.Errorf("%w: sent %v, got %v", ErrNonceMismatch, opts.Nonce, info.Nonce)
	}
	if opts.Roots != nil {
		inter := x509.NewCertPool()
		if opts.Intermediates != nil {
			inter = opts.Intermediates.Clone()
		}
		for _, c := range p7.Certificates {
			inter.AddCert(c)
		}
		at := opts.CurrentTime
		if at.IsZero() {
			at = info.GenTime
		}
		vo := x509.VerifyOptions{Roots: opts.Roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
		var chains [][]*x509.Certificate
		var err error
		if opts.VerifyChain != nil {
			chains, err = opts.VerifyChain(signer, vo)
		} else {
			chains, err = signer.Verify(vo)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
		}
		info.Chains = chains
	}
	return info, nil
}

func orTrailing(err error) error {
	if err != nil {
		return err
	}
	return errTrailing
}

// parsePKCS7 and safeVerify guard against panics in the CMS library on
// hostile input: a parser must never crash its caller.
func parsePKCS7(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, fmt.Errorf("CMS parser failed: %v", r)
		}
	}()
	return pkcs7.Parse(der)
}

func safeVerify(p7 *pkcs7.PKCS7) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CMS verification failed: %v", r)
		}
	}()
	return p7.Verify()
}

// checkESS checks the signing-certificate(-v2) attribute binds the signer
// certificate (RFC 3161 §2.4.2, RFC 5816).
func checkESS(p7 *pkcs7.PKCS7, signer *x509.Certificate) error {
	var v2 signingCertificateV2
	if err := p7.UnmarshalSignedAttribute(oidSigningCertificateV2, &v2); err == nil {
		if len(v2.Certs) == 0 {
			return fmt.Errorf("%w: empty signing-certificate-v2 attribute", ErrBadSignature)
		}
		h := crypto.SHA256
		if len(v2.Certs[0].HashAlgorithm.Algorithm) > 0 {
			if h = hashOf(v2.Certs[0].HashAlgorithm.Algorithm); h == 0 {
				return fmt.Errorf("%w: ESSCertIDv2 hash %v", ErrUnsupportedHash, v2.Certs[0].HashAlgorithm.Algorithm)
			}
		}
		hh := h.New()
		hh.Write(signer.Raw)
		if !bytes.Equal(hh.Sum(nil), v2.Certs[0].CertHash) {
			return fmt.Errorf("%w: signing-certificate-v2 does not name the signer's certificate", ErrBadSignature)
		}
		return nil
	}
	var v1 signingCertificate
	if err := p7.UnmarshalSignedAttribute(oidSigningCertificate, &v1); err == nil {
		if len(v1.Certs) == 0 {
			return fmt.Errorf("%w: empty signing-certificate attribute", ErrBadSignature)
		}
		hh := crypto.SHA1.New()
		hh.Write(signer.Raw)
		if !bytes.Equal(hh.Sum(nil), v1.Certs[0].CertHash) {
			return fmt.Errorf("%w: signing-certificate does not name the signer's certificate", ErrBadSignature)
		}
		return nil
	}
	return fmt.Errorf("%w: no signing-certificate attribute (RFC 3161 §2.4.2)", ErrBadSignature)
}

// checkTSACert enforces RFC 3161 §2.3: one extended key usage, timeStamping,
// in a critical extension.
func checkTSACert(c *x509.Certificate) error {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidExtKeyUsage) {
			continue
		}
		if !ext.Critical {
			return fmt.Errorf("%w: %q: extended key usage is not critical", ErrNotTSA, c.Subject)
		}
		if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0 {
			return fmt.Errorf("%w: %q: extended key usage must be timeStamping only", ErrNotTSA, c.Subject)
		}
		return nil
	}
	return fmt.Errorf("%w: %q has no extended key usage timeStamping", ErrNotTSA, c.Subject)
}
