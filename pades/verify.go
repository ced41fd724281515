package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/semnat/semnat/pades/pdf"
)

// RevocationMode says how Verify checks revocation.
type RevocationMode int

const (
	// RevocationAuto uses the revocation data embedded in the file (DSS,
	// Adobe revocationInfoArchival, CMS crls) and, with
	// VerifyOptions.Online, asks OCSP responders then CRL distribution
	// points. Without any status a signature is INDETERMINATE/TRY_LATER.
	RevocationAuto RevocationMode = iota
	// RevocationSkip does not check revocation; the report says so and the
	// signature can still pass.
	RevocationSkip
)

// Policy holds the knobs of the validation policy. The zero value is the
// default policy.
type Policy struct {
	// MinRSABits is the smallest RSA key accepted (default 2048); smaller
	// keys give INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE.
	MinRSABits int
	// AllowSHA1 accepts SHA-1 signature digests (default: they give
	// INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE).
	AllowSHA1 bool
	// AllowVisibleSignatureAfterCertification accepts any new visible
	// signature field added after a certification signature. By default
	// one is accepted (and listed as a warning with its page and
	// rectangle) only when it is signed in the revision that adds it and
	// its appearance draws inside its rectangle: the Sneaky Signature
	// Attack relies on the others.
	AllowVisibleSignatureAfterCertification bool
}

func (p Policy) minRSA() int {
	if p.MinRSABits <= 0 {
		return 2048
	}
	return p.MinRSABits
}

// VerifyOptions configure Verify. The zero value verifies offline, with no
// trust anchor (every chain is then INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND).
type VerifyOptions struct {
	// Roots are the trust anchors.
	Roots *x509.CertPool
	// SystemRoots also trusts the operating system's roots.
	SystemRoots bool
	// Intermediates help build chains (the CMS and DSS certificates are
	// always used).
	Intermediates []*x509.Certificate
	// Revocation: auto (default) or skip.
	Revocation RevocationMode
	// Online allows OCSP and CRL requests (auto mode) through HTTPClient
	// (default: a client with a 15 s timeout).
	Online     bool
	HTTPClient *http.Client
	// Fetcher, if set, is asked for what the document does not carry
	// (after the DSS and the CMS, before Online); the report's origin of
	// what it brought is "proxy".
	Fetcher RevocationFetcher
	// At is the validation time (default: now).
	At time.Time
	// Policy knobs.
	Policy Policy
	// PDF configures the PDF reader: limits against hostile files, and
	// Password for an encrypted file (user or owner password).
	PDF *pdf.Options
	// Cache, if set, remembers certificate checks across calls (a service
	// or a batch verifying many documents from the same CAs).
	Cache *VerifyCache
}

// Verify validates every signature and document timestamp of the PDF in
// in[0:size). It returns an error only when the input cannot be read or is
// not a PDF (ErrNotPDF); everything about the signatures, including
// malformed ones, is in the Report.
func Verify(ctx context.Context, in io.ReaderAt, size int64, opts *VerifyOptions) (*Report, error) {
	v, err := newVerifier(ctx, in, size, opts)
	if err != nil {
		return nil, err
	}
	return v.run()
}

func newVerifier(ctx context.Context, in io.ReaderAt, size int64, opts *VerifyOptions) (*verifier, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	var popts pdf.Options
	if opts.PDF != nil {
		popts = *opts.PDF
	}
	r, err := pdf.Open(in, size, &popts)
	if err != nil {
		if errors.Is(err, pdf.ErrNotPDF) || errors.Is(err, pdf.ErrDamaged) || errors.Is(err, pdf.ErrSyntax) || errors.Is(err, pdf.ErrLimit) {
			return nil, NotPDF(err)
		}
		return nil, fmt.Errorf("pades: reading the PDF: %w", err)
	}
	v := &verifier{ctx: ctx, in: in, size: size, r: r, opts: opts, now: opts.At}
	if v.now.IsZero() {
		v.now = time.Now()
	}
	return v, nil
}

// verifier holds the state of one Verify call.
type verifier struct {
	ctx  context.Context
	in   io.ReaderAt
	size int64
	r    *pdf.Reader
	opts *VerifyOptions
	now  time.Time

	report *Report
	sigs   []*sigState
	docMDP int

	dss       *dssData
	dssParsed *parsedRevocation
	// fetchedData: Fetcher's answers, per issuer and serial.
	fetchedData map[string]fetchedRevocation
	diffs       map[int]*revisionDiff // per revision index
	// damage: xref entries of later revisions that lead to no object of
	// their number (the reader would repair the file).
	damage   []string
	revViews map[int]*pdf.Reader
	// trailingGarbage: bytes after the last revision that no xref accounts for.
	trailingGarbage bool
	// scan finds signature dictionaries the fields do not reach.
	scan sigScan
	// marks, prefixes: shared-prefix hashing (verify_digest.go); hashed
	// counts the bytes hashed.
	marks    []int64
	prefixes map[crypto.Hash][]prefixState
	hashed   int64
}

// sigState is the work-in-progress of one signature.
type sigState struct {
	rep    *SignatureReport
	field  *field
	ref    pdf.Ref
	dict   *pdf.Dict
	sd     *sigDict
	rev    int // signed revision, -1 when unknown
	docTS  bool
	failed bool // a structural failure: skip later checks
	// poe is the earliest time a valid timestamp proves (zero if none).
	poe time.Time
	// hasSigTS: a signature-time-stamp attribute is present and its
	// imprint is this signature's value. It makes the level B-T whatever
	// the trust anchors: the level is a property of the file; whether the
	// timestamp is trusted is the timestamp check's verdict.
	hasSigTS bool
	offset   int64
	cms      *cmsState
}

// verdict records an indication on a signature; the worst one wins
// (TOTAL-FAILED over INDETERMINATE), the first of equal severity is kept.
func (s *sigState) verdict(ind Indication, sub SubIndication, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.rep.Reasons = append(s.rep.Reasons, msg)
	cur := s.rep.Indication
	if cur == TotalPassed || (cur == Indeterminate && ind == TotalFailed) {
		s.rep.Indication, s.rep.SubIndication = ind, sub
		// Move the deciding reason first.
		n := len(s.rep.Reasons)
		copy(s.rep.Reasons[1:], s.rep.Reasons[:n-1])
		s.rep.Reasons[0] = msg
	}
}

func (s *sigState) warn(format string, args ...any) {
	s.rep.Warnings = append(s.rep.Warnings, fmt.Sprintf(format, args...))
}

func (v *verifier) run() (*Report, error) {
	r := v.r
	rep := &Report{Version: ReportVersion, Size: v.size, ValidationTime: v.now.UTC(), Revisions: len(r.Revisions()), Policy: ChangePolicy, Signatures: []SignatureReport{}}
	v.report = rep
	docFail := ""
	if r.Repaired() {
		docFail = damagedMsg
		rep.Warnings = append(rep.Warnings, docFail)
	}
	for _, rv := range r.Revisions() {
		if rv.Kind == pdf.XrefHybrid {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("revision %d uses a hybrid-reference xref (table + /XRefStm): readers that ignore /XRefStm may see a different document", rv.Index+1))
		}
	}
	if !r.Repaired() {
		if g, err := v.checkTrailing(); err != nil {
			return nil, err
		} else if g != "" {
			v.trailingGarbage = true
			rep.Warnings = append(rep.Warnings, g)
		}
	}
	// Files of the standard security handler are decrypted as they are
	// read; other handlers cannot be examined.
	enc := r.Encrypted() != nil && !r.Decrypting()
	if enc {
		rep.Warnings = append(rep.Warnings, "the file is encrypted with a security handler semnat does not implement: the signed content and later changes cannot be fully examined")
	}
	cat, err := r.Catalog()
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("catalog not readable: %v", err))
		return v.finish(), nil
	}
	v.docMDP = docMDP(r, cat)
	rep.DocMDP = v.docMDP
	af, err := readAcroForm(r, cat)
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("form fields not readable: %v", err))
		if enc {
			rep.Indication, rep.SubIndication = Indeterminate, SignedDataNotFound
			return v.finishWith(), nil
		}
		return v.finish(), nil
	}
	v.dss = v.readDSS(cat)

	// Enumerate signatures through the form fields (never by scanning).
	byValue := map[pdf.Ref][]string{}
	for _, f := range af.Fields {
		if !f.IsSignature() || !f.Signed() {
			continue
		}
		if ref, ok := f.Value.(pdf.Ref); ok {
			byValue[ref] = append(byValue[ref], f.Name)
			// Where each signed range's prefix ends, for hashing once.
			if d, err := v.r.ResolveDict(ref); err == nil && d != nil {
				if br, ok := d.Get("ByteRange").(pdf.Array); ok && len(br) == 4 {
					if a, ok := br[1].(pdf.Integer); ok {
						v.markPrefix(int64(a))
					}
				}
			}
		}
	}
	for _, f := range af.Fields {
		if !f.IsSignature() || !f.Signed() {
			continue
		}
		s := &sigState{field: f, rev: -1, rep: &SignatureReport{
			Field: f.Name, Kind: "signature", Indication: TotalPassed, Reasons: []string{},
			Checks: Checks{Format: CheckPassed, Integrity: CheckNotApplicable, Signature: CheckNotApplicable,
				Certificate: CheckNotApplicable, Chain: CheckNotApplicable, Revocation: CheckNotApplicable,
				Timestamp: CheckNotApplicable, Modifications: CheckNotApplicable},
		}}
		v.sigs = append(v.sigs, s)
		if err := v.ctx.Err(); err != nil {
			return nil, err
		}
		if docFail != "" {
			s.verdict(TotalFailed, FormatFailure, "%s", docFail)
			s.rep.Checks.Format = CheckFailed
			s.failed = true
			continue
		}
		ref, ok := f.Value.(pdf.Ref)
		if !ok {
			s.verdict(TotalFailed, FormatFailure, "the field's /V is not an indirect reference to a signature dictionary")
			s.rep.Checks.Format = CheckFailed
			s.failed = true
			continue
		}
		s.ref = ref
		if names := byValue[ref]; len(names) > 1 {
			s.verdict(TotalFailed, FormatFailure, "the signature dictionary %v is the value of several fields (%v)", ref, names)
			s.rep.Checks.Format = CheckFailed
			s.failed = true
			continue
		}
		if err := v.verifyOne(s); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(v.sigs, func(i, j int) bool {
		a, b := v.sigs[i], v.sigs[j]
		if a.rev != b.rev {
			return a.rev < b.rev
		}
		return a.offset < b.offset
	})
	v.applyDocTimestamps()
	for _, s := range v.sigs {
		if s.failed {
			continue
		}
		if err := v.trustAndRevocation(s); err != nil {
			return nil, err
		}
	}
	for _, s := range v.sigs {
		if s.failed {
			continue
		}
		v.modifications(s)
		if v.trailingGarbage {
			s.verdict(TotalFailed, FormatFailure, "the file has data after its last revision that no cross-reference section accounts for (an incremental saving attack without xref)")
		}
	}
	hidden, err := v.unreached()
	if err != nil {
		return nil, err
	}
	if docFail == "" && (r.Repaired() || len(v.damage) > 0) {
		// The reader rescanned the file while the signatures were read
		// or compared, or the diff found an xref entry that would make
		// it: the same verdict as a file damaged from the start.
		v.damagedLate()
	}
	v.levels()
	if enc && len(v.sigs) == 0 && cat.Has("AcroForm") {
		rep.Warnings = append(rep.Warnings, "no signature found, but the form of an encrypted file may not be readable without decryption")
		rep.Indication, rep.SubIndication = Indeterminate, SignedDataNotFound
		return v.finishWith(), nil
	}
	for _, s := range v.sigs {
		if enc && s.rep.Indication == TotalPassed {
			s.verdict(Indeterminate, SignedDataNotFound, "the file is encrypted with a security handler semnat does not implement: later changes to the document cannot be examined")
		}
	}
	rep = v.finish()
	if hidden != "" && (rep.Indication == TotalPassed || rep.Indication == NoSignatureFound) {
		// A signature that viewers may show was not verified.
		rep.Indication, rep.SubIndication = Indeterminate, SigConstraintsFailure
	}
	return rep, nil
}

// damagedLate gives every signature the verdict of a file whose xref was
// damaged from the start, when the reader had to repair it later (an xref
// entry found broken while an object was read).
func (v *verifier) damagedLate() {
	msg := fmt.Sprintf("%s (found while reading: %s)", damagedMsg, strings.Join(append(v.damage, v.r.RepairReasons()...), "; "))
	v.report.Warnings = append(v.report.Warnings, msg)
	for _, s := range v.sigs {
		s.rep.Reasons = append([]string{msg}, s.rep.Reasons...)
		s.rep.Indication, s.rep.SubIndication = TotalFailed, FormatFailure
		s.rep.Checks.Format = CheckFailed
		s.rep.CoversWholeDoc = false
	}
}

// damagedMsg says why a repaired file is not verifiable.
const damagedMsg = "the cross-reference structure is damaged and had to be repaired; such a file is not verifiable (different readers may see different documents)"

// finish computes the document indication.
func (v *verifier) finish() *Report {
	rep := v.report
	rep.Indication = ""
	return v.finishWith()
}

func (v *verifier) finishWith() *Report {
	rep := v.report
	for _, s := range v.sigs {
		rep.Signatures = append(rep.Signatures, *s.rep)
	}
	if rep.Indication != "" {
		return rep
	}
	if len(rep.Signatures) == 0 {
		rep.Indication = NoSignatureFound
		return rep
	}
	rep.Indication = TotalPassed
	for _, s := range rep.Signatures {
		switch {
		case s.Indication == TotalFailed && rep.Indication != TotalFailed:
			rep.Indication, rep.SubIndication = TotalFailed, s.SubIndication
		case s.Indication == Indeterminate && rep.Indication == TotalPassed:
			rep.Indication, rep.SubIndication = Indeterminate, s.SubIndication
		}
	}
	return rep
}

// checkTrailing reports non-blank bytes after the end of the last revision.
func (v *verifier) checkTrailing() (string, error) {
	revs := v.r.Revisions()
	if len(revs) == 0 {
		return "", nil
	}
	end := revs[len(revs)-1].End
	if end < 0 {
		return "the last revision has no %%EOF marker", nil
	}
	if end >= v.size {
		return "", nil
	}
	buf := make([]byte, 32<<10)
	for off := end; off < v.size; {
		n := min(int64(len(buf)), v.size-off)
		if _, err := v.in.ReadAt(buf[:n], off); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
			return "", fmt.Errorf("pades: reading the input: %w", err)
		}
		for _, c := range buf[:n] {
			switch c {
			case ' ', '\t', '\r', '\n', '\f', 0:
			default:
				return fmt.Sprintf("%d bytes after the last revision (offset %d) are not covered by any cross-reference section", v.size-end, end), nil
			}
		}
		off += n
	}
	return "", nil
}

// sigDict is the parsed signature dictionary.
type sigDict struct {
	Type, Filter, SubFilter pdf.Name
	ByteRange               [4]int64
	Contents                []byte
	ContentsHex             bool
	M                       string
	Name, Reason, Location  string
	ContactInfo             string
}

// errSigDict marks a malformed signature dictionary.
var errSigDict = errors.New("pades: malformed signature dictionary")

// maxContents bounds /Contents (the CMS parser refuses more than 4 MiB).
const maxContents = 4 << 20

// parseSigDict reads the keys of a signature dictionary that the verifier
// needs, strictly: /ByteRange must be four direct non-negative integers,
// /Contents a string.
func parseSigDict(r *pdf.Reader, d *pdf.Dict) (*sigDict, error) {
	sd := &sigDict{}
	sd.Type, _ = d.Name("Type")
	sd.Filter, _ = d.Name("Filter")
	sd.SubFilter, _ = d.Name("SubFilter")
	if sd.Type != "" && sd.Type != "Sig" && sd.Type != "DocTimeStamp" {
		return nil, fmt.Errorf("%w: /Type /%s", errSigDict, sd.Type)
	}
	br, ok := d.Get("ByteRange").(pdf.Array)
	if !ok {
		if d.Has("ByteRange") {
			return nil, fmt.Errorf("%w: /ByteRange is not a direct array", errSigDict)
		}
		return nil, fmt.Errorf("%w: no /ByteRange", errSigDict)
	}
	if len(br) != 4 {
		return nil, fmt.Errorf("%w: /ByteRange has %d numbers, want 4", errSigDict, len(br))
	}
	for i, o := range br {
		n, ok := o.(pdf.Integer)
		if !ok {
			return nil, fmt.Errorf("%w: /ByteRange element %d is not an integer", errSigDict, i)
		}
		if n < 0 || n > 1<<50 {
			return nil, fmt.Errorf("%w: /ByteRange element %d is %d", errSigDict, i, n)
		}
		sd.ByteRange[i] = int64(n)
	}
	c, ok := d.Get("Contents").(pdf.String)
	if !ok {
		if d.Has("Contents") {
			return nil, fmt.Errorf("%w: /Contents is not a direct string", errSigDict)
		}
		return nil, fmt.Errorf("%w: no /Contents", errSigDict)
	}
	if len(c.Value) == 0 {
		return nil, fmt.Errorf("%w: /Contents is empty", errSigDict)
	}
	if len(c.Value) > maxContents {
		return nil, fmt.Errorf("%w: /Contents is %d bytes (limit %d)", errSigDict, len(c.Value), maxContents)
	}
	sd.Contents, sd.ContentsHex = c.Value, c.Hex
	if d.Has("Cert") && sd.SubFilter != "adbe.x509.rsa_sha1" {
		return nil, fmt.Errorf("%w: /Cert is only for adbe.x509.rsa_sha1", errSigDict)
	}
	text := func(k pdf.Name) string { return textOf(mustResolve(r, d.Get(k))) }
	if s, ok := mustResolve(r, d.Get("M")).(pdf.String); ok {
		sd.M = string(s.Value)
	}
	sd.Name, sd.Reason, sd.Location, sd.ContactInfo = text("Name"), text("Reason"), text("Location"), text("ContactInfo")
	return sd, nil
}

// verifyOne runs the structural, integrity and cryptographic checks of one
// signature.
func (v *verifier) verifyOne(s *sigState) error {
	d, err := v.r.ResolveDict(s.ref)
	if err != nil || d == nil {
		s.verdict(TotalFailed, FormatFailure, "the signature dictionary %v cannot be read: %v", s.ref, errOr(err, "not a dictionary"))
		s.rep.Checks.Format = CheckFailed
		s.failed = true
		return nil
	}
	s.dict = d
	sd, err := parseSigDict(v.r, d)
	if err != nil {
		s.verdict(TotalFailed, FormatFailure, "%v", err)
		s.rep.Checks.Format = CheckFailed
		s.failed = true
		return nil
	}
	s.sd = sd
	rep := s.rep
	rep.SubFilter = string(sd.SubFilter)
	rep.ByteRange = sd.ByteRange[:]
	rep.Name, rep.Reason, rep.Location, rep.ContactInfo = sd.Name, sd.Reason, sd.Location, sd.ContactInfo
	if t, ok := parsePDFDate(sd.M); ok && sd.M != "" {
		tt := t.UTC()
		rep.ClaimedSigningTime = &tt
	}
	s.docTS = sd.Type == "DocTimeStamp" || sd.SubFilter == "ETSI.RFC3161"
	if s.docTS {
		rep.Kind = "timestamp"
	}
	if err := v.coverage(s); err != nil {
		return err
	}
	if s.failed {
		return nil
	}
	switch sd.SubFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached", "adbe.pkcs7.sha1":
		return v.verifyCMS(s)
	case "ETSI.RFC3161":
		return v.verifyDocTimestamp(s)
	case "adbe.x509.rsa_sha1":
		s.verdict(Indeterminate, SignedDataNotFound, "SubFilter adbe.x509.rsa_sha1 (a raw PKCS#1 signature with /Cert, PKCS#7-era, not PAdES) is not supported")
	default:
		s.verdict(Indeterminate, SignedDataNotFound, "unsupported SubFilter /%s", sd.SubFilter)
	}
	s.failed = true
	return nil
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// maxGapScan bounds how far before the gap the signature dictionary may start.
const maxGapScan = 64 << 10

// coverage implements pades.md §5.2/§5.3: ByteRange [0 a b c] with the gap
// exactly the hex string of this dictionary's /Contents, ending on a
// revision boundary, the dictionary inside the signed bytes.
func (v *verifier) coverage(s *sigState) error {
	br := s.sd.ByteRange
	fail := func(format string, args ...any) error {
		s.verdict(TotalFailed, FormatFailure, format, args...)
		s.rep.Checks.Format = CheckFailed
		s.failed = true
		return nil
	}
	a, b, c := br[1], br[2], br[3]
	if br[0] != 0 {
		return fail("/ByteRange does not start at 0 (%v)", br)
	}
	if a <= 0 || b <= a || c < 0 || b+c > v.size {
		return fail("/ByteRange %v is not [0 a b c] with 0 < a < b and b+c within the file (%d bytes)", br, v.size)
	}
	gapLen := b - a
	if gapLen < 2 || gapLen > 2*maxContents+2 {
		return fail("/ByteRange gap of %d bytes cannot be a /Contents hex string", gapLen)
	}
	var gap []byte
	if gapLen <= copyBufSize {
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		gap = (*bp)[:gapLen]
	} else {
		gap = make([]byte, gapLen)
	}
	if _, err := v.in.ReadAt(gap, a); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("pades: reading the input: %w", err)
	}
	hexPart := gap
	valueStart := a // offset of the '<' that opens the /Contents value
	if gap[0] == '<' && gap[len(gap)-1] == '>' {
		hexPart = gap[1 : len(gap)-1]
	} else {
		// Some writers leave the delimiters outside the gap. Accept that
		// only when the gap is hex digits right between '<' and '>'.
		var around [1]byte
		var after [1]byte
		okBefore := a > 0 && readByte(v.in, a-1, around[:]) && around[0] == '<'
		okAfter := readByte(v.in, b, after[:]) && after[0] == '>'
		if !okBefore || !okAfter {
			return fail("the /ByteRange gap is not a hex string (it must be exactly the /Contents value, delimiters included)")
		}
		valueStart = a - 1
		s.warn("the /ByteRange gap leaves out the < > delimiters of /Contents (non-standard, but only hex digits are unsigned)")
	}
	// Every byte must be a hex digit; compare the digits with /Contents
	// (an odd last digit is followed by an implicit 0) on the way, without
	// decoding them into a copy.
	same := s.sd.ContentsHex && (len(hexPart)+1)/2 == len(s.sd.Contents)
	for i := 0; i < len(hexPart); i += 2 {
		hi, lo := hexValue[hexPart[i]], int8(0)
		if i+1 < len(hexPart) {
			lo = hexValue[hexPart[i+1]]
		}
		if hi < 0 || lo < 0 {
			ch := hexPart[i]
			if hi >= 0 {
				ch = hexPart[i+1]
			}
			return fail("the /ByteRange gap holds a non-hex byte %q: the unsigned bytes are not just /Contents (signature wrapping)", ch)
		}
		if same {
			same = byte(hi<<4|lo) == s.sd.Contents[i/2]
		}
	}
	if !same {
		return fail("the /ByteRange gap is not this signature dictionary's /Contents")
	}
	// The revision the signature covers.
	end := b + c
	k := -1
	revs := v.r.Revisions()
	for i, rv := range revs {
		if rv.End < 0 || rv.End < end || rv.End-end > 2 {
			continue
		}
		tail := make([]byte, rv.End-end)
		if len(tail) > 0 {
			if _, err := v.in.ReadAt(tail, end); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("pades: reading the input: %w", err)
			}
		}
		if len(bytes.Trim(tail, "\r\n")) != 0 {
			continue
		}
		if rv.StartXref != rv.XrefOffset {
			return fail("revision %d's startxref (%d) does not point at its xref section (%d)", i+1, rv.StartXref, rv.XrefOffset)
		}
		k = i
		break
	}
	if k < 0 {
		return fail("the signed bytes end at offset %d, which is not the end of any revision (%%%%EOF of an xref section in the /Prev chain)", end)
	}
	s.rev = k
	s.rep.Revision = k
	// The signature dictionary must be inside the signed revision, right
	// before the gap, with /Contents as the key of the gap.
	view, err := v.viewAt(k)
	if err != nil {
		return fail("revision %d cannot be read: %v", k+1, err)
	}
	e, ok := view.Lookup(s.ref.Num)
	if !ok || e.Type == pdf.EntryFree {
		return fail("the signature dictionary %v is not defined in the revision it signs", s.ref)
	}
	if e.Type != pdf.EntryInUse {
		return fail("the signature dictionary %v is inside an object stream, so its /Contents cannot be the /ByteRange gap", s.ref)
	}
	s.offset = e.Offset
	if e.Offset >= valueStart || valueStart-e.Offset > maxGapScan {
		return fail("the signature dictionary %v (offset %d) does not lead to the /ByteRange gap at %d", s.ref, e.Offset, a)
	}
	head := make([]byte, valueStart-e.Offset)
	if _, err := v.in.ReadAt(head, e.Offset); err != nil {
		return fmt.Errorf("pades: reading the input: %w", err)
	}
	if bytes.Contains(head, []byte("endobj")) {
		return fail("the /ByteRange gap is not inside the signature dictionary %v", s.ref)
	}
	if !bytes.HasSuffix(bytes.TrimRight(head, " \t\r\n\f\x00"), []byte("/Contents")) {
		return fail("the /ByteRange gap is not the value of /Contents in the signature dictionary %v", s.ref)
	}
	// In the current view, the dictionary must still be the one signed.
	if cur, ok := v.r.Lookup(s.ref.Num); !ok || cur != e {
		// A later revision redefines it: the diff analysis reports whether
		// that is harmless (identical copy) or not.
		s.warn("a later revision redefines the signature dictionary %v", s.ref)
	}
	s.rep.CoversWholeDoc = k == len(revs)-1 && !v.trailingGarbage
	return nil
}

func readByte(in io.ReaderAt, off int64, b []byte) bool {
	n, _ := in.ReadAt(b, off)
	return n == len(b)
}

// hexValue maps a byte to its hex digit value, -1 for a non-digit.
var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := 0; c < 16; c++ {
		t["0123456789abcdef"[c]] = int8(c)
		t["0123456789ABCDEF"[c]] = int8(c)
	}
	return t
}()

// viewAt returns the reader as of revision k (cached).
func (v *verifier) viewAt(k int) (*pdf.Reader, error) {
	if k == len(v.r.Revisions())-1 {
		return v.r, nil
	}
	if rv, ok := v.revViews[k]; ok {
		return rv, nil
	}
	rv, err := v.r.AsOf(k)
	if err != nil {
		return nil, err
	}
	if v.revViews == nil {
		v.revViews = map[int]*pdf.Reader{}
	}
	v.revViews[k] = rv
	return rv, nil
}
