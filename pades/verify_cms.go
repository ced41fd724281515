package pades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/tsa"
)

// cmsState is what the CMS checks leave for the trust checks.
type cmsState struct {
	parsed            *cms.Parsed
	signer            *x509.Certificate
	certs             []*x509.Certificate // CMS certificates
	adbeOCSP, adbeCRL [][]byte            // Adobe revocationInfoArchival
	adbeParsed        *parsedRevocation   // adbeOCSP and adbeCRL, parsed on first use
	tsTime            time.Time           // document timestamp: genTime
}

// verifyCMS checks a CMS signature (ETSI.CAdES.detached or the legacy
// adbe.pkcs7.* subfilters): parse, digest, signature, signer certificate.
func (v *verifier) verifyCMS(s *sigState) error {
	rep := s.rep
	pades := s.sd.SubFilter == "ETSI.CAdES.detached"
	if !pades {
		rep.Level = "PKCS#7"
		s.warn("SubFilter %s: PKCS#7, not PAdES", s.sd.SubFilter)
	}
	p, err := v.parseCMS(s.sd.Contents)
	if errors.Is(err, cms.ErrNegativeSerial) {
		// Not a broken signature but a certificate that RFC 5280 forbids
		// and crypto/x509 parses only with GODEBUG x509negativeserial=1
		// (semnat's go.mod sets it; a program importing pades may not):
		// nothing about the signer can be checked.
		s.verdict(Indeterminate, NoSigningCertificateFound, "the signer certificate cannot be checked: %v", err)
		rep.Checks.Certificate = CheckIndeterminate
		s.failed = true
		return nil
	}
	if err != nil {
		s.verdict(TotalFailed, FormatFailure, "the CMS signature cannot be parsed: %v", err)
		rep.Checks.Format = CheckFailed
		s.failed = true
		return nil
	}
	st := &cmsState{parsed: p, certs: p.Certificates}
	s.cms = st
	si := &p.Signer
	h, err := si.Hash()
	if err != nil {
		s.verdict(Indeterminate, CryptoConstraintsFailure, "unsupported digest algorithm: %v", err)
		s.failed = true
		return nil
	}
	rep.HashAlgorithm = h.String() // SHA-256, …
	alg, _, algErr := si.Algorithm()
	if algErr == nil {
		rep.SignatureAlgorithm = alg.String()
	}
	sha1Form := s.sd.SubFilter == "adbe.pkcs7.sha1"
	switch {
	case sha1Form && p.EContent == nil:
		s.verdict(TotalFailed, FormatFailure, "adbe.pkcs7.sha1 signature without the encapsulated SHA-1 digest")
		s.failed = true
		return nil
	case !sha1Form && p.EContent != nil:
		s.verdict(TotalFailed, FormatFailure, "the CMS signature is not detached (it encapsulates content)")
		s.failed = true
		return nil
	case !p.EContentType.Equal(cms.OIDData):
		s.verdict(TotalFailed, FormatFailure, "the CMS content type is %v, not id-data", p.EContentType)
		s.failed = true
		return nil
	}
	// Integrity: stream the signed bytes.
	var content []byte // what the signer's digest is over (nil: the ranges)
	var digest []byte
	if sha1Form {
		d := crypto.SHA1.New()
		if err := v.hashRanges(d, crypto.SHA1, s.sd.ByteRange); err != nil {
			return err
		}
		var octets []byte
		if rest, err := asn1.Unmarshal(p.EContent, &octets); err == nil && len(rest) == 0 {
			content = octets
		} else {
			content = p.EContent
		}
		if !bytes.Equal(content, d.Sum(nil)) {
			s.verdict(TotalFailed, HashFailure, "the SHA-1 digest encapsulated by the adbe.pkcs7.sha1 signature does not match the signed bytes")
			rep.Checks.Integrity = CheckFailed
			s.failed = true
			return nil
		}
		if !h.Available() {
			s.verdict(Indeterminate, CryptoConstraintsFailure, "digest %v not available", h)
			s.failed = true
			return nil
		}
		dd := h.New()
		dd.Write(content)
		digest = dd.Sum(nil)
	} else {
		if !h.Available() {
			s.verdict(Indeterminate, CryptoConstraintsFailure, "digest %v not available", h)
			s.failed = true
			return nil
		}
		d := h.New()
		if err := v.hashRanges(d, h, s.sd.ByteRange); err != nil {
			return err
		}
		digest = d.Sum(nil)
	}
	if si.SignedAttrsDER != nil {
		md, err := si.MessageDigest()
		if err != nil {
			s.verdict(TotalFailed, FormatFailure, "signed attributes: %v", err)
			s.failed = true
			return nil
		}
		if !bytes.Equal(md, digest) {
			s.verdict(TotalFailed, HashFailure, "the document digest does not match the signed message-digest: the signed bytes were changed")
			rep.Checks.Integrity = CheckFailed
			s.failed = true
			return nil
		}
	} else if pades {
		s.verdict(TotalFailed, FormatFailure, "a PAdES signature must have signed attributes")
		s.failed = true
		return nil
	}
	rep.Checks.Integrity = CheckPassed
	// Signer certificate: the CMS certificates, then the DSS and the
	// configured intermediates.
	cands := append(append([]*x509.Certificate(nil), p.Certificates...), v.dss.certs...)
	cands = append(cands, v.opts.Intermediates...)
	cert := si.FindSignerCertificate(cands)
	if cert == nil {
		s.verdict(Indeterminate, NoSigningCertificateFound, "the signer certificate is neither in the signature nor in the DSS")
		rep.Checks.Signature = CheckIndeterminate
		s.failed = true
		return nil
	}
	st.signer = cert
	rep.Signer = certInfo(cert)
	if si.SignedAttrsDER != nil {
		err = v.signerSignature(si, cert)
	} else if algErr != nil {
		err = algErr
	} else {
		a, hh, _ := si.Algorithm()
		err = cms.VerifyDigest(cert.PublicKey, a, hh, digest, si.Signature)
	}
	if err != nil {
		if errors.Is(err, cms.ErrUnsupportedKey) || errors.Is(err, cms.ErrUnsupportedHash) {
			s.verdict(Indeterminate, CryptoConstraintsFailure, "the signature cannot be checked: %v", err)
			rep.Checks.Signature = CheckIndeterminate
		} else {
			s.verdict(TotalFailed, SigCryptoFailure, "the signature value does not verify with the signer's key: %v", err)
			rep.Checks.Signature = CheckFailed
		}
		s.failed = true
		return nil
	}
	rep.Checks.Signature = CheckPassed
	present, err := si.SigningCertificateV2Matches(cert)
	switch {
	case err != nil:
		s.verdict(Indeterminate, NoSigningCertificateFound, "signing-certificate attribute: %v", err)
		rep.Checks.Certificate = CheckFailed
	case !present && pades:
		s.verdict(Indeterminate, NoSigningCertificateFound, "no signing-certificate-v2 attribute binds the signer certificate (required by PAdES)")
		rep.Checks.Certificate = CheckIndeterminate
	case !present:
		s.warn("no signing-certificate attribute binds the signer certificate")
		rep.Checks.Certificate = CheckPassed
	default:
		rep.Checks.Certificate = CheckPassed
	}
	if _, ok, _ := si.Attr(cms.OIDAttrSigningTime); ok && pades {
		s.warn("the CMS has a signing-time attribute, which PAdES baseline forbids (the time belongs in /M)")
	}
	v.cryptoConstraints(s, h, cert)
	// Adobe revocationInfoArchival (signed attribute).
	if val, ok, _ := si.Attr(cms.OIDAttrAdobeRevocation); ok {
		st.adbeCRL, st.adbeOCSP = parseAdobeRevocation(val)
	}
	st.adbeCRL = append(st.adbeCRL, p.CRLs...)
	// Signature timestamps.
	for _, tok := range si.UnsignedValues(cms.OIDAttrTimeStampToken) {
		ti := v.checkTimestamp(s, tok, si.Signature)
		if rep.Timestamp == nil || (ti.Valid && !rep.Timestamp.Valid) {
			rep.Timestamp = ti
		}
		if ti.Valid {
			if s.poe.IsZero() || ti.Time.Before(s.poe) {
				s.poe = ti.Time
			}
		}
	}
	if rep.Timestamp != nil {
		if rep.Timestamp.Valid {
			rep.Checks.Timestamp = CheckPassed
		} else if rep.Timestamp.untrusted {
			rep.Checks.Timestamp = CheckIndeterminate
			s.warn("the signature timestamp is not trusted, so it proves nothing: %s", rep.Timestamp.Reason)
		} else {
			rep.Checks.Timestamp = CheckFailed
			s.verdict(Indeterminate, SigConstraintsFailure, "the signature timestamp is not valid: %s", rep.Timestamp.Reason)
		}
	}
	return nil
}

// cryptoConstraints applies the algorithm policy.
func (v *verifier) cryptoConstraints(s *sigState, h crypto.Hash, cert *x509.Certificate) {
	if h == crypto.SHA1 && !v.opts.Policy.AllowSHA1 {
		s.verdict(Indeterminate, CryptoConstraintsFailure, "the signature uses SHA-1, which is no longer considered secure")
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < v.opts.Policy.minRSA() {
			s.verdict(Indeterminate, CryptoConstraintsFailure, "the signer's RSA key has %d bits (policy minimum %d)", bits, v.opts.Policy.minRSA())
		}
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			s.verdict(Indeterminate, CryptoConstraintsFailure, "the signer's EC key has %d bits", k.Curve.Params().BitSize)
		}
	}
}

// parseAdobeRevocation reads RevocationInfoArchival ::= SEQUENCE {
// crl [0] EXPLICIT SEQUENCE OF CRL OPTIONAL, ocsp [1] EXPLICIT SEQUENCE OF
// OCSPResponse OPTIONAL, otherRevInfo [2] ... }.
func parseAdobeRevocation(der []byte) (crls, ocsps [][]byte) {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil || seq.Tag != asn1.TagSequence {
		return nil, nil
	}
	rest := seq.Bytes
	for len(rest) > 0 {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil || el.Class != asn1.ClassContextSpecific {
			return crls, ocsps
		}
		var inner asn1.RawValue
		if _, err := asn1.Unmarshal(el.Bytes, &inner); err != nil {
			continue
		}
		items := inner.Bytes
		for len(items) > 0 && len(crls)+len(ocsps) < 64 {
			var it asn1.RawValue
			if items, err = asn1.Unmarshal(items, &it); err != nil {
				break
			}
			switch el.Tag {
			case 0:
				crls = append(crls, it.FullBytes)
			case 1:
				ocsps = append(ocsps, it.FullBytes)
			}
		}
	}
	return crls, ocsps
}

// roots returns the configured trust anchor pools.
func (v *verifier) rootPools() []*x509.CertPool {
	var out []*x509.CertPool
	if v.opts.Roots != nil {
		out = append(out, v.opts.Roots)
	}
	if v.opts.SystemRoots {
		if p, err := systemRoots(); err == nil && p != nil {
			out = append(out, p)
		}
	}
	return out
}

// systemRoots is the operating system's root pool, copied once: the verify
// cache keys chains by pool, and x509.SystemCertPool returns a new copy on
// every call.
var systemRoots = sync.OnceValues(x509.SystemCertPool)

func (v *verifier) intermediatePool(extra []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range extra {
		p.AddCert(c)
	}
	for _, c := range v.dss.certs {
		p.AddCert(c)
	}
	for _, c := range v.opts.Intermediates {
		p.AddCert(c)
	}
	return p
}

// trimDER returns the first DER element of b (a /Contents value is padded
// with zeros after it).
func trimDER(b []byte) []byte {
	in := cryptobyte.String(b)
	var el cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1Element(&el, &tag) {
		return b
	}
	return el
}

// tokenInfo parses a timestamp token and its TSTInfo without verifying it.
func tokenInfo(token []byte) (*cms.Parsed, *cms.TSTInfo, error) {
	p, err := cms.Parse(token)
	if err != nil {
		return nil, nil, err
	}
	if !p.EContentType.Equal(cms.OIDTSTInfo) || p.EContent == nil {
		return nil, nil, fmt.Errorf("%w: the token does not hold a TSTInfo", cms.ErrMalformed)
	}
	info, err := cms.ParseTSTInfo(p.EContent)
	if err != nil {
		return nil, nil, err
	}
	return p, info, nil
}

// checkTimestamp verifies a signature timestamp token over sigValue: the
// imprint, the TSA signature, its EKU and chain at genTime.
func (v *verifier) checkTimestamp(s *sigState, token, sigValue []byte) *TimestampInfo {
	token = trimDER(token)
	p, info, err := v.tokenInfo(token)
	if err != nil {
		return &TimestampInfo{Reason: fmt.Sprintf("token: %v", err), Origin: TimestampInSignature}
	}
	ti := &TimestampInfo{Time: info.GenTime.UTC(), Origin: TimestampInSignature}
	signer := p.Signer.FindSignerCertificate(append(append([]*x509.Certificate(nil), p.Certificates...), v.dss.certs...))
	ti.TSA = certInfo(signer)
	if !info.HashAlg.Available() {
		ti.Reason = fmt.Sprintf("imprint digest %v not available", info.HashAlg)
		return ti
	}
	d := info.HashAlg.New()
	d.Write(sigValue)
	if !bytes.Equal(d.Sum(nil), info.HashedMessage) {
		ti.Reason = "its imprint does not match the signature value"
		return ti
	}
	s.hasSigTS = true
	if signer == nil {
		ti.Reason = "the TSA certificate is neither in the token nor in the DSS"
		return ti
	}
	roots := v.rootPools()
	if len(roots) == 0 {
		ti.Reason = "no trust anchors configured for the TSA"
		ti.untrusted = true
		return ti
	}
	var lastErr error
	for _, rp := range roots {
		vi, err := v.tsaVerify(token, info.HashAlg, info.HashedMessage, rp)
		if err != nil {
			lastErr = err
			continue
		}
		ti.Valid = true
		v.timestampRevocation(s, ti, vi)
		return ti
	}
	ti.Reason = lastErr.Error()
	ti.untrusted = errors.Is(lastErr, tsa.ErrUntrusted)
	return ti
}

// verifyDocTimestamp checks a document timestamp (ETSI.RFC3161): the token
// imprint is the digest of the signed bytes, the token's own message
// digest and signature; the TSA chain is checked with the signatures'.
func (v *verifier) verifyDocTimestamp(s *sigState) error {
	rep := s.rep
	rep.Level = "DocTimeStamp"
	fail := func(ind Indication, sub SubIndication, format string, args ...any) error {
		s.verdict(ind, sub, format, args...)
		s.failed = true
		return nil
	}
	p, info, err := v.tokenInfo(s.sd.Contents)
	if errors.Is(err, cms.ErrNegativeSerial) {
		rep.Checks.Certificate = CheckIndeterminate
		return fail(Indeterminate, NoSigningCertificateFound, "the TSA certificate of the document timestamp cannot be checked: %v", err)
	}
	if err != nil {
		rep.Checks.Format = CheckFailed
		return fail(TotalFailed, FormatFailure, "document timestamp token: %v", err)
	}
	rep.HashAlgorithm = info.HashAlg.String()
	if !info.HashAlg.Available() {
		return fail(Indeterminate, CryptoConstraintsFailure, "imprint digest %v not available", info.HashAlg)
	}
	d := info.HashAlg.New()
	if err := v.hashRanges(d, info.HashAlg, s.sd.ByteRange); err != nil {
		return err
	}
	if !bytes.Equal(d.Sum(nil), info.HashedMessage) {
		rep.Checks.Integrity = CheckFailed
		return fail(TotalFailed, HashFailure, "the document timestamp's imprint does not match the signed bytes")
	}
	rep.Checks.Integrity = CheckPassed
	si := &p.Signer
	h, err := si.Hash()
	if err != nil || !h.Available() {
		return fail(Indeterminate, CryptoConstraintsFailure, "token digest algorithm: %v", errOr(err, "not available"))
	}
	md, err := si.MessageDigest()
	if err != nil {
		return fail(TotalFailed, FormatFailure, "document timestamp token: %v", err)
	}
	dd := h.New()
	dd.Write(p.EContent)
	if !bytes.Equal(dd.Sum(nil), md) {
		rep.Checks.Integrity = CheckFailed
		return fail(TotalFailed, HashFailure, "the document timestamp token's TSTInfo does not match its message-digest")
	}
	cands := append(append([]*x509.Certificate(nil), p.Certificates...), v.dss.certs...)
	signer := si.FindSignerCertificate(append(cands, v.opts.Intermediates...))
	if signer == nil {
		return fail(Indeterminate, NoSigningCertificateFound, "the TSA certificate is neither in the token nor in the DSS")
	}
	rep.Signer = certInfo(signer)
	if alg, _, err := si.Algorithm(); err == nil {
		rep.SignatureAlgorithm = alg.String()
	}
	if err := v.signerSignature(si, signer); err != nil {
		if errors.Is(err, cms.ErrUnsupportedKey) || errors.Is(err, cms.ErrUnsupportedHash) {
			return fail(Indeterminate, CryptoConstraintsFailure, "the token signature cannot be checked: %v", err)
		}
		rep.Checks.Signature = CheckFailed
		return fail(TotalFailed, SigCryptoFailure, "the document timestamp's signature does not verify: %v", err)
	}
	rep.Checks.Signature = CheckPassed
	if _, err := si.SigningCertificateV2Matches(signer); err != nil {
		rep.Checks.Certificate = CheckFailed
		s.verdict(Indeterminate, NoSigningCertificateFound, "document timestamp signing-certificate attribute: %v", err)
	} else {
		rep.Checks.Certificate = CheckPassed
	}
	s.cms = &cmsState{parsed: p, signer: signer, certs: p.Certificates, tsTime: info.GenTime}
	rep.Timestamp = &TimestampInfo{Time: info.GenTime.UTC(), TSA: rep.Signer, Valid: true, Origin: TimestampInDocument}
	if info.HashAlg == crypto.SHA1 && !v.opts.Policy.AllowSHA1 {
		s.verdict(Indeterminate, CryptoConstraintsFailure, "the document timestamp uses SHA-1")
	}
	return nil
}

// applyDocTimestamps gives every signature covered by a valid document
// timestamp that timestamp's time as proof of existence.
func (v *verifier) applyDocTimestamps() {
	for _, ts := range v.sigs {
		if !ts.docTS || ts.failed || ts.cms == nil || ts.cms.tsTime.IsZero() {
			continue
		}
		t := ts.cms.tsTime
		for _, s := range v.sigs {
			if s == ts || s.rev < 0 || s.rev > ts.rev {
				continue
			}
			if s.poe.IsZero() || t.Before(s.poe) {
				s.poe = t
			}
		}
		if ts.poe.IsZero() || t.Before(ts.poe) {
			ts.poe = t
		}
	}
}

// trustAndRevocation builds the chain to a trust anchor at the best
// signature time and checks revocation.
func (v *verifier) trustAndRevocation(s *sigState) error {
	rep := s.rep
	st := s.cms
	if st == nil || st.signer == nil {
		return nil
	}
	best := v.now
	if !s.poe.IsZero() && s.poe.Before(best) {
		best = s.poe
	}
	rep.BestSignatureTime = best.UTC()
	cert := st.signer
	roots := v.rootPools()
	if len(roots) == 0 {
		s.verdict(Indeterminate, NoCertificateChainFound, "no trust anchors are configured (give --trust PEM files)")
		rep.Checks.Chain = CheckIndeterminate
		rep.Checks.Revocation = CheckSkipped
		return nil
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	if s.docTS {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	}
	inter := v.intermediatePool(st.certs)
	var chains [][]*x509.Certificate
	var chainErr error
	for _, rp := range roots {
		chains, chainErr = v.opts.Cache.verifyChain(cert, x509.VerifyOptions{Roots: rp, Intermediates: inter, CurrentTime: best, KeyUsages: eku})
		if chainErr == nil {
			break
		}
	}
	if chainErr != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(chainErr, &inv) && inv.Reason == x509.Expired:
			s.verdict(Indeterminate, OutOfBoundsNoPOE, "a certificate of the chain is not valid at the best signature time %s and no proof of existence predates that: %v", best.UTC().Format(time.RFC3339), chainErr)
		case errors.As(chainErr, &ua):
			s.verdict(Indeterminate, NoCertificateChainFound, "no chain to a configured trust anchor: %v", chainErr)
		default:
			s.verdict(Indeterminate, ChainConstraintsFailure, "certificate chain: %v", chainErr)
		}
		rep.Checks.Chain = CheckIndeterminate
		rep.Checks.Revocation = CheckSkipped
		return nil
	}
	chain := chains[0]
	for _, c := range chain[1:] {
		rep.Chain = append(rep.Chain, *certInfo(c))
	}
	if !s.docTS && cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		s.verdict(Indeterminate, ChainConstraintsFailure, "the signer certificate's key usage allows neither digitalSignature nor nonRepudiation")
		rep.Checks.Chain = CheckFailed
	} else {
		rep.Checks.Chain = CheckPassed
	}
	if v.opts.Revocation == RevocationSkip {
		rep.Checks.Revocation = CheckSkipped
		rep.Revocation = &RevocationInfo{Status: "skipped"}
		s.warn("revocation was not checked (--revocation skip)")
		return nil
	}
	return v.revocation(s, chain, best)
}

// levels assigns the PAdES level of each signature.
func (v *verifier) levels() {
	// Revisions that hold revocation data (DSS), and document timestamps.
	dssRev := -1
	if v.dss.present {
		dssRev = v.dss.firstRev
	}
	for _, s := range v.sigs {
		if s.docTS || s.rep.Level == "PKCS#7" || s.sd == nil || s.cms == nil || s.failed {
			if s.rep.Level == "" && s.sd != nil && s.sd.SubFilter == "ETSI.CAdES.detached" {
				s.rep.Level = "B-B"
			}
			continue
		}
		lvl := "B-B"
		covered := false // a document timestamp covers this signature
		for _, t := range v.sigs {
			if t.docTS && !t.failed && t.rev >= s.rev && t.rev >= 0 {
				covered = true
			}
		}
		if s.hasSigTS || covered {
			lvl = "B-T"
		}
		if lvl == "B-T" && dssRev >= 0 && v.dss.hasRevocation {
			lvl = "B-LT"
			for _, t := range v.sigs {
				if t.docTS && !t.failed && t.rev >= dssRev {
					lvl = "B-LTA"
				}
			}
		}
		s.rep.Level = lvl
	}
}

// dssData is the document security store.
type dssData struct {
	present       bool
	firstRev      int // oldest revision whose catalog has /DSS
	certs         []*x509.Certificate
	ocsps, crls   [][]byte
	hasRevocation bool
}

// maxDSSItems bounds the DSS a hostile file can make us parse.
const maxDSSItems = 4096

func (v *verifier) readDSS(cat *pdf.Dict) *dssData {
	d := &dssData{firstRev: -1}
	dss, err := v.r.ResolveDict(cat.Get("DSS"))
	if err != nil || dss == nil {
		return d
	}
	d.present = true
	read := func(key pdf.Name) [][]byte {
		arr, _ := mustResolve(v.r, dss.Get(key)).(pdf.Array)
		var out [][]byte
		for i, o := range arr {
			if i >= maxDSSItems {
				break
			}
			st, ok := mustResolve(v.r, o).(*pdf.Stream)
			if !ok {
				continue
			}
			data, err := v.streamData(v.r, st)
			if err != nil || len(data) > 32<<20 {
				continue
			}
			out = append(out, data)
		}
		return out
	}
	for i, der := range read("Certs") {
		certs := v.parseCertsBlob(der)
		if certs == nil {
			why := "it cannot be parsed"
			if cms.NegativeSerial(der) {
				why = cms.ErrNegativeSerial.Error()
			}
			v.report.Warnings = append(v.report.Warnings, fmt.Sprintf("DSS certificate %d is ignored: %s", i+1, why))
		}
		d.certs = append(d.certs, certs...)
	}
	d.ocsps = read("OCSPs")
	d.crls = read("CRLs")
	d.hasRevocation = len(d.ocsps)+len(d.crls) > 0
	// The oldest revision whose catalog has a /DSS.
	for i := range v.r.Revisions() {
		view, err := v.viewAt(i)
		if err != nil {
			continue
		}
		c, err := view.Catalog()
		if err == nil && c != nil && c.Has("DSS") {
			d.firstRev = i
			break
		}
	}
	return d
}

// timestampRevocation checks the TSA certificate of a valid signature
// timestamp: revoked before the token's time makes the timestamp invalid;
// no revocation data is a warning (it is an extra check: the token's own
// signature and chain already passed).
func (v *verifier) timestampRevocation(s *sigState, ti *TimestampInfo, vi *tsa.Info) {
	if v.opts.Revocation == RevocationSkip || len(vi.Chains) == 0 || len(vi.Chains[0]) < 2 {
		return
	}
	cert, issuer := vi.Chains[0][0], vi.Chains[0][1]
	if hasOCSPNoCheck(cert) {
		return
	}
	rs := v.statusOf(s, cert, issuer, vi.GenTime)
	ti.Revocation = rs.info()
	switch {
	case !rs.found:
		s.warn("the revocation status of the TSA certificate %q could not be checked: %s", cert.Subject.CommonName, rs.note)
	case rs.state == crl.Revoked && !rs.revokedAt.After(vi.GenTime):
		ti.Valid = false
		ti.Reason = fmt.Sprintf("the TSA certificate %q was revoked at %s, before the timestamp (%s)",
			cert.Subject.CommonName, rs.revokedAt.UTC().Format(time.RFC3339), rs.source)
	case rs.state == crl.Unknown:
		s.warn("the TSA certificate %q is unknown to its issuer's revocation service (%s)", cert.Subject.CommonName, rs.source)
	}
}
