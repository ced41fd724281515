package pades

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"strconv"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/tsa"
)

// The helpers below run one check or parse, through v.opts.Cache when set
// (see VerifyCache for what is remembered and how it is keyed). Remembered
// values are shared between calls: nothing may modify them.

// parseCertsBlob parses a DSS certificate stream (DER or PEM).
func (v *verifier) parseCertsBlob(der []byte) []*x509.Certificate {
	c := v.opts.Cache
	out := c.remember(func() memoKey { return memoKeyOf(memoCerts, nil, der) }, func() (any, bool) {
		certs, err := keyfile.ParseCerts(der)
		if err != nil {
			return []*x509.Certificate(nil), true
		}
		return certs, true
	})
	return out.([]*x509.Certificate)
}

// parseOCSP parses an OCSP response; nil when it is unusable (malformed or
// not successful).
func (v *verifier) parseOCSP(der []byte) *ocsp.Response {
	out := v.opts.Cache.remember(func() memoKey { return memoKeyOf(memoOCSP, nil, der) }, func() (any, bool) {
		r, err := ocsp.ParseResponse(der)
		if err != nil || r.Status != ocsp.Successful {
			return (*ocsp.Response)(nil), true
		}
		return r, true
	})
	return out.(*ocsp.Response)
}

// parseCRL parses a CRL; nil when it is malformed.
func (v *verifier) parseCRL(der []byte) *x509.RevocationList {
	out := v.opts.Cache.remember(func() memoKey { return memoKeyOf(memoCRL, nil, der) }, func() (any, bool) {
		l, err := crl.Parse(der)
		if err != nil {
			return (*x509.RevocationList)(nil), true
		}
		return l, true
	})
	return out.(*x509.RevocationList)
}

// maxMemoStream bounds the raw size of a stream whose decoding is remembered.
const maxMemoStream = 1 << 20

// streamData decodes a DSS stream. With a cache, a stream with no filter or
// a lone direct /FlateDecode without parameters is remembered by its raw
// bytes (anything else is decoded every time).
func (v *verifier) streamData(r *pdf.Reader, st *pdf.Stream) ([]byte, error) {
	c := v.opts.Cache
	if c == nil || st.Length > maxMemoStream || r.Encrypted() != nil || st.Dict.Has("DecodeParms") || st.Dict.Has("DP") {
		return r.StreamData(st)
	}
	var filter pdf.Name
	switch f := st.Dict.Get("Filter").(type) {
	case nil, pdf.Null:
	case pdf.Name:
		if f != "FlateDecode" {
			return r.StreamData(st)
		}
		filter = f
	default:
		return r.StreamData(st)
	}
	rd, err := r.RawStreamReader(st)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, st.Length)
	if _, err := io.ReadFull(rd, raw); err != nil {
		return nil, err
	}
	type decoded struct {
		data []byte
		err  error
	}
	out := c.remember(func() memoKey { return memoKeyOf(memoStream, nil, []byte(filter), v.pdfOptsKey(), raw) }, func() (any, bool) {
		data, err := r.StreamData(st)
		// Limit errors depend on the reader's options: not remembered.
		return decoded{data, err}, err == nil
	}).(decoded)
	return out.data, out.err
}

// pdfOptsKey identifies the reader options (limits), which decoding
// results depend on.
func (v *verifier) pdfOptsKey() []byte {
	if v.opts.PDF == nil {
		return nil
	}
	o := *v.opts.PDF
	o.Password = nil // a secret: never part of a key
	return fmt.Appendf(nil, "%+v", o)
}

// ocspCheck is the remembered result of Response.CertStatus.
type ocspCheck struct {
	single *ocsp.SingleResponse
	err    error
}

// ocspCertStatus is r.CertStatus(cert, issuer) at the response's own time
// (the caller decides about freshness).
func (v *verifier) ocspCertStatus(r *ocsp.Response, cert, issuer *x509.Certificate) (*ocsp.SingleResponse, error) {
	c := v.opts.Cache
	out := c.remember(func() memoKey { return memoKeyOf(memoOCSPCheck, nil, r.Raw, cert.Raw, issuer.Raw) }, func() (any, bool) {
		single, _, err := r.CertStatus(cert, issuer, ocsp.VerifyOptions{Now: r.ProducedAt, AllowStale: true, CheckIssued: c.checkIssued})
		return ocspCheck{single, err}, len(r.Raw) > 0
	}).(ocspCheck)
	return out.single, out.err
}

// signerSignature is si.VerifySignature(cert).
func (v *verifier) signerSignature(si *cms.SignerInfo, cert *x509.Certificate) error {
	out := v.opts.Cache.remember(func() memoKey {
		return memoKeyOf(memoSig, nil, []byte(si.DigestOID.String()), []byte(si.SigAlgOID.String()), si.SigAlgParams,
			si.SignedAttrsDER, si.Signature, cert.Raw)
	}, func() (any, bool) {
		return errBox{si.VerifySignature(cert)}, si.SignedAttrsDER != nil
	}).(errBox)
	return out.err
}

type errBox struct{ err error }

// tsaVerify is tsa.Verify of a signature timestamp token with the
// verifier's candidate certificates and intermediates, at the token's time.
func (v *verifier) tsaVerify(token []byte, h crypto.Hash, digest []byte, roots *x509.CertPool) (*tsa.Info, error) {
	type result struct {
		info *tsa.Info
		err  error
	}
	c := v.opts.Cache
	out := c.remember(func() memoKey {
		parts := [][]byte{token, []byte(strconv.Itoa(int(h))), digest}
		for _, cert := range v.dss.certs {
			parts = append(parts, cert.Raw)
		}
		parts = append(parts, []byte("intermediates"))
		for _, cert := range v.opts.Intermediates {
			parts = append(parts, cert.Raw)
		}
		return memoKeyOf(memoTSA, roots, parts...)
	}, func() (any, bool) {
		info, err := tsa.Verify(token, h, digest, tsa.VerifyOptions{Roots: roots, Intermediates: v.intermediatePool(nil), Certificates: v.dss.certs, VerifyChain: c.verifyChain})
		// Only successes: a failed chain may pass at another time or with
		// other pools.
		return result{info, err}, err == nil
	}).(result)
	return out.info, out.err
}

// parseCMS is cms.Parse.
func (v *verifier) parseCMS(der []byte) (*cms.Parsed, error) {
	type result struct {
		p   *cms.Parsed
		err error
	}
	out := v.opts.Cache.remember(func() memoKey { return memoKeyOf(memoCMS, nil, der) }, func() (any, bool) {
		p, err := cms.Parse(der)
		return result{p, err}, true
	}).(result)
	return out.p, out.err
}

// tokenInfo parses a timestamp token and its TSTInfo without verifying it.
func (v *verifier) tokenInfo(token []byte) (*cms.Parsed, *cms.TSTInfo, error) {
	type result struct {
		p    *cms.Parsed
		info *cms.TSTInfo
		err  error
	}
	out := v.opts.Cache.remember(func() memoKey { return memoKeyOf(memoToken, nil, token) }, func() (any, bool) {
		p, info, err := tokenInfo(token)
		return result{p, info, err}, true
	}).(result)
	return out.p, out.info, out.err
}
