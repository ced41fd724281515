package pades

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/ocsp"
)

// revSkew tolerates clock differences and second-truncated times between
// a timestamp and the revocation data fetched right after it.
const revSkew = 5 * time.Minute

// revStatus is the revocation status of one certificate.
type revStatus struct {
	found      bool
	state      crl.State
	revokedAt  time.Time
	thisUpdate time.Time
	source     string
	origin     string // Origin*
	note       string // why nothing usable was found
}

// info is the report's form of rs.
func (rs revStatus) info() *RevocationInfo {
	ri := &RevocationInfo{Status: "unavailable", Source: rs.source, Origin: OriginNone}
	if rs.found {
		ri.Status, ri.Origin = rs.state.String(), rs.origin
		tu := rs.thisUpdate.UTC()
		ri.ThisUpdate = &tu
		if rs.state == crl.Revoked {
			ra := rs.revokedAt.UTC()
			ri.RevokedAt = &ra
		}
	}
	return ri
}

// parsedRevocation caches the parsed embedded OCSP responses and CRLs.
type parsedRevocation struct {
	ocsps []*ocsp.Response
	crls  []*x509.RevocationList
}

func (v *verifier) parseRevocation(ocsps, crls [][]byte) parsedRevocation {
	var p parsedRevocation
	for _, der := range ocsps {
		if r := v.parseOCSP(der); r != nil {
			p.ocsps = append(p.ocsps, r)
		}
	}
	for _, der := range crls {
		if l := v.parseCRL(der); l != nil {
			p.crls = append(p.crls, l)
		}
	}
	return p
}

// fresh says whether a "good" status issued at thisUpdate (valid until
// nextUpdate, zero if none) proves the certificate was not revoked at t.
func fresh(thisUpdate, nextUpdate, t time.Time) bool {
	if !thisUpdate.Before(t.Add(-revSkew)) {
		return true // issued after t: a later good status covers t
	}
	return !nextUpdate.IsZero() && !t.After(nextUpdate)
}

// sourceName is the word of the report's source for origin where.
func sourceName(where string) string {
	switch where {
	case OriginDSS:
		return "DSS"
	case OriginCMS:
		return "CMS"
	}
	return where
}

// statusFrom looks for the status of cert in parsed data (where: its
// origin, Origin*).
func (v *verifier) statusFrom(p parsedRevocation, where string, cert, issuer *x509.Certificate, t time.Time) revStatus {
	var best revStatus
	consider := func(rs revStatus, next time.Time) {
		if rs.state == crl.Revoked {
			if !best.found || best.state != crl.Revoked || rs.revokedAt.Before(best.revokedAt) {
				best = rs
			}
			return
		}
		if best.found && best.state == crl.Revoked {
			return
		}
		if rs.state == crl.Good && !fresh(rs.thisUpdate, next, t) {
			if best.note == "" {
				best.note = fmt.Sprintf("%s is not fresh for %s (thisUpdate %s)", rs.source, t.UTC().Format(time.RFC3339), rs.thisUpdate.UTC().Format(time.RFC3339))
			}
			return
		}
		if !best.found || rs.thisUpdate.After(best.thisUpdate) {
			best = rs
		}
	}
	for _, r := range p.ocsps {
		if r.ProducedAt.After(v.now.Add(revSkew)) || !ocspCovers(r, cert, issuer) {
			continue
		}
		single, err := v.ocspCertStatus(r, cert, issuer)
		if err != nil {
			continue
		}
		consider(revStatus{found: true, state: single.Status.State, revokedAt: single.Status.RevokedAt,
			thisUpdate: single.ThisUpdate, source: sourceName(where) + " OCSP", origin: where}, single.NextUpdate)
	}
	for _, l := range p.crls {
		if l.ThisUpdate.After(v.now.Add(revSkew)) {
			continue
		}
		st, err := crl.Check(l, cert, issuer, crl.CheckOptions{Now: l.ThisUpdate, AllowStale: true})
		if err != nil {
			continue
		}
		consider(revStatus{found: true, state: st.State, revokedAt: st.RevokedAt, thisUpdate: l.ThisUpdate, source: sourceName(where) + " CRL", origin: where}, l.NextUpdate)
	}
	return best
}

// ocspCovers is a cheap pre-check (no signature verification) that the
// response holds a status for cert.
func ocspCovers(r *ocsp.Response, cert, issuer *x509.Certificate) bool {
	for i := range r.Responses {
		id := r.Responses[i].CertID
		if id.SerialNumber != nil && id.SerialNumber.Cmp(cert.SerialNumber) == 0 && id.IssuedBy(issuer) {
			return true
		}
	}
	return false
}

func (v *verifier) httpClient() *http.Client {
	if v.opts.HTTPClient != nil {
		return v.opts.HTTPClient
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// statusOf finds the revocation status of cert at time t: DSS, then the
// signature's own data, then online (OCSP, then CRL) when allowed.
func (v *verifier) statusOf(s *sigState, cert, issuer *x509.Certificate, t time.Time) revStatus {
	if v.dssParsed == nil {
		p := v.parseRevocation(v.dss.ocsps, v.dss.crls)
		v.dssParsed = &p
	}
	notes := []string{}
	if rs := v.statusFrom(*v.dssParsed, OriginDSS, cert, issuer, t); rs.found {
		return rs
	} else if rs.note != "" {
		notes = append(notes, rs.note)
	}
	if st := s.cms; st != nil && len(st.adbeOCSP)+len(st.adbeCRL) > 0 {
		if st.adbeParsed == nil {
			p := v.parseRevocation(st.adbeOCSP, st.adbeCRL)
			st.adbeParsed = &p
		}
		if rs := v.statusFrom(*st.adbeParsed, OriginCMS, cert, issuer, t); rs.found {
			return rs
		} else if rs.note != "" {
			notes = append(notes, rs.note)
		}
	}
	if f := v.opts.Fetcher; f != nil {
		rs, note := v.fetched(f, cert, issuer, t)
		if rs.found {
			return rs
		}
		notes = append(notes, note)
	}
	if v.opts.Online {
		hc := v.httpClient()
		oc := &ocsp.Client{HTTPClient: hc, Now: func() time.Time { return v.now }}
		if len(cert.OCSPServer) > 0 {
			res, err := oc.Check(v.ctx, cert, issuer)
			if err == nil {
				return revStatus{found: true, state: res.Status.State, revokedAt: res.Status.RevokedAt, thisUpdate: res.ThisUpdate, source: "online OCSP", origin: OriginOnline}
			}
			notes = append(notes, fmt.Sprintf("OCSP: %v", err))
		}
		if len(cert.CRLDistributionPoints) > 0 {
			st, list, err := crl.CheckCert(v.ctx, hc, cert, issuer, crl.CheckOptions{Now: v.now})
			if err == nil {
				return revStatus{found: true, state: st.State, revokedAt: st.RevokedAt, thisUpdate: list.ThisUpdate, source: "online CRL", origin: OriginOnline}
			}
			notes = append(notes, fmt.Sprintf("CRL: %v", err))
		}
	} else if v.opts.Fetcher == nil {
		notes = append(notes, "online checks are off (--online)")
	}
	rs := revStatus{}
	if len(notes) > 0 {
		rs.note = fmt.Sprint(notes)
	}
	return rs
}

// revocation checks every certificate of chain but the anchor.
func (v *verifier) revocation(s *sigState, chain []*x509.Certificate, best time.Time) error {
	rep := s.rep
	proven := !s.poe.IsZero()
	rep.Checks.Revocation = CheckPassed
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if hasOCSPNoCheck(cert) {
			continue
		}
		rs := v.statusOf(s, cert, issuer, best)
		what := "the signer certificate"
		if i > 0 {
			what = fmt.Sprintf("CA certificate %q", cert.Subject.CommonName)
		}
		if i == 0 {
			rep.Revocation = rs.info()
		}
		switch {
		case !rs.found:
			if s.docTS {
				s.warn("no revocation data for %s of the TSA: %s", what, rs.note)
				continue
			}
			s.verdict(Indeterminate, TryLater, "no revocation status for %s: %s", what, rs.note)
			rep.Checks.Revocation = CheckIndeterminate
		case rs.state == crl.Unknown:
			s.verdict(Indeterminate, TryLater, "the responder does not know %s (%s)", what, rs.source)
			rep.Checks.Revocation = CheckIndeterminate
		case rs.state == crl.Revoked:
			at := rs.revokedAt.UTC().Format(time.RFC3339)
			switch {
			case proven && rs.revokedAt.After(best):
				s.warn("%s was revoked at %s, after the signature's proven time %s", what, at, best.UTC().Format(time.RFC3339))
			case proven:
				s.verdict(TotalFailed, Revoked, "%s was revoked at %s, before the signature's proven time %s (%s)", what, at, best.UTC().Format(time.RFC3339), rs.source)
				rep.Checks.Revocation = CheckFailed
			default:
				sub := RevokedNoPOE
				if i > 0 {
					sub = RevokedCANoPOE
				}
				s.verdict(Indeterminate, sub, "%s was revoked at %s and no timestamp proves the signature is older (%s)", what, at, rs.source)
				rep.Checks.Revocation = CheckFailed
			}
		}
	}
	return nil
}

// RevocationFetcher fetches revocation data a document does not carry:
// the in-browser verifier asks the server's revocation proxy, with the
// certificate's identifiers only (an OCSP request: issuer name and key
// hashes, serial number). Verify checks what it returns exactly as it
// checks embedded data (the responder's signature and authority, the
// CertID, freshness): the fetcher is a courier, not trusted for the verdict.
type RevocationFetcher interface {
	// FetchOCSP returns a DER OCSP response about cert, issued by issuer.
	FetchOCSP(ctx context.Context, cert, issuer *x509.Certificate) ([]byte, error)
}

// fetched asks the fetcher about cert once per Verify call and looks for
// its status in the answer; note says why there is none.
func (v *verifier) fetched(f RevocationFetcher, cert, issuer *x509.Certificate, t time.Time) (revStatus, string) {
	key := string(issuer.Raw) + "\x00" + cert.SerialNumber.String()
	p, ok := v.fetchedData[key]
	if !ok {
		der, err := f.FetchOCSP(v.ctx, cert, issuer)
		if err != nil {
			p.note = fmt.Sprintf("revocation proxy: %v", err)
		} else if r := v.parseOCSP(der); r != nil {
			p.data.ocsps = append(p.data.ocsps, r)
		} else {
			p.note = "revocation proxy: the answer is not an OCSP response"
		}
		if v.fetchedData == nil {
			v.fetchedData = map[string]fetchedRevocation{}
		}
		v.fetchedData[key] = p
	}
	if p.note != "" {
		return revStatus{}, p.note
	}
	rs := v.statusFrom(p.data, OriginProxy, cert, issuer, t)
	if !rs.found && rs.note == "" {
		rs.note = "revocation proxy: the OCSP response is not about this certificate or not signed by its issuer's responder"
	}
	return rs, rs.note
}

// fetchedRevocation is one answer of VerifyOptions.Fetcher.
type fetchedRevocation struct {
	data parsedRevocation
	note string
}
