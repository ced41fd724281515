package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/pades/pdf"
)

// Prepared is a signature prepared but not yet signed: the incremental
// update with a zeroed /Contents placeholder, the ByteRange it covers and
// the CMS signed attributes. It holds no secret and is JSON-serialisable, so
// a web or mobile flow can keep it between the request that prepares and the
// one that completes.
type Prepared struct {
	// OriginalSize is the size of the document the update is appended to.
	OriginalSize int64
	// Update is the incremental update, with /ByteRange filled in and
	// /Contents still zero.
	Update []byte
	// ContentsOffset is the offset of the /Contents '<' within Update;
	// ContentsSize the number of bytes the placeholder holds.
	ContentsOffset int
	ContentsSize   int
	ByteRange      [4]int64
	// ContentDigest is the digest of the ByteRange bytes.
	ContentDigest []byte
	Pending       cms.Pending
	// Field is the signature field's fully qualified name.
	Field string
}

// DigestToSign returns what the private key signs: the digest of the CMS
// signed attributes.
func (p *Prepared) DigestToSign() []byte { return p.Pending.Digest() }

// SignerOpts returns the options to pass to crypto.Signer.Sign.
func (p *Prepared) SignerOpts() crypto.SignerOpts { return p.Pending.SignerOpts() }

// openForUpdate opens a PDF for an incremental update and refuses what
// cannot be updated safely.
func openForUpdate(in io.ReaderAt, size int64, password []byte) (*pdf.Reader, *pdf.Dict, pdf.Ref, error) {
	r, err := pdf.Open(in, size, &pdf.Options{Password: password})
	if err != nil {
		if errors.Is(err, pdf.ErrNotPDF) {
			return nil, nil, pdf.Ref{}, NotPDF(err)
		}
		return nil, nil, pdf.Ref{}, fmt.Errorf("pades: reading the PDF: %w", err)
	}
	if enc := r.Encrypted(); enc != nil {
		if !r.Decrypting() {
			return nil, nil, pdf.Ref{}, fmt.Errorf("%w (%s)", ErrEncrypted, enc)
		}
		if !enc.AllowsSigning() {
			return nil, nil, pdf.Ref{}, fmt.Errorf("%w: neither form filling (bit 9) nor annotations (bit 6) are permitted (/P %d)", ErrNotPermitted, int32(enc.Permissions))
		}
	}
	if r.Repaired() {
		return nil, nil, pdf.Ref{}, fmt.Errorf("%w: %v", ErrDamaged, r.RepairReasons())
	}
	cat, err := r.Catalog()
	if err != nil {
		return nil, nil, pdf.Ref{}, fmt.Errorf("pades: reading the document catalog: %w", err)
	}
	catRef, ok := r.Trailer().Get("Root").(pdf.Ref)
	if !ok {
		return nil, nil, pdf.Ref{}, fmt.Errorf("%w: the trailer's /Root is not an indirect reference", ErrDamaged)
	}
	return r, cat, catRef, nil
}

// fieldPlan is what a new or filled signature field needs.
type fieldPlan struct {
	name      string
	visible   *Visible
	apBuilder func(u *pdf.Update, rect [4]float64) (pdf.Ref, error)
	docTS     bool // document timestamp: invisible, never certifies
	// picked: name is an empty field chosen by default (not asked for);
	// if the stamp does not fit its rectangle, a new field is made.
	picked bool
}

// placeField adds the signature dictionary sigRef to the document: it fills
// the named empty signature field or creates a new widget field on a page,
// and updates the AcroForm (and catalog when needed). cat is the catalog
// clone the caller will write. It returns the field's name and lock (if the
// filled field carries a /Lock dictionary).
func placeField(r *pdf.Reader, u *pdf.Update, cat *pdf.Dict, af *acroForm, sigRef pdf.Ref, fp fieldPlan) (string, *pdf.Dict, error) {
	name := fp.name
	if f := af.find(name); name != "" && f != nil {
		lock, filled, err := fillSigField(r, u, f, sigRef, fp)
		if err != nil {
			return "", nil, err
		}
		if filled {
			return name, lock, setSigFlags(r, u, cat, af, nil)
		}
		// The stamp does not fit the field chosen by default: a new
		// field where the caller asked.
		name = ""
	}
	if enc := r.Encrypted(); !enc.Allows(pdf.PermAnnotate) {
		// Bit 9 alone permits filling existing fields, not adding one.
		return "", nil, fmt.Errorf("%w: only filling in an existing empty signature field is permitted, not adding one (/P bit 9 without bit 6); name an empty field (--field)", ErrNotPermitted)
	}
	if name == "" {
		name = uniqueFieldName(af, fp.docTS)
	}
	pageNo := 1
	if fp.visible != nil {
		pageNo = fp.visible.Page
	}
	n, err := r.NumPages()
	if err != nil {
		return "", nil, fmt.Errorf("pades: reading the page tree: %w", err)
	}
	if pageNo > n {
		return "", nil, fmt.Errorf("pades: page %d does not exist (the document has %d)", pageNo, n)
	}
	page, err := r.Page(pageNo - 1)
	if err != nil {
		return "", nil, fmt.Errorf("pades: reading page %d: %w", pageNo, err)
	}
	widget := pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("Annot")},
		pdf.DictEntry{Key: "Subtype", Value: pdf.Name("Widget")},
		pdf.DictEntry{Key: "FT", Value: pdf.Name("Sig")},
		pdf.DictEntry{Key: "T", Value: textString(name)},
		pdf.DictEntry{Key: "V", Value: sigRef},
	)
	if fp.visible != nil {
		rc, err := placeStamp(fp.visible, page.CropBox)
		if err != nil {
			return "", nil, err
		}
		if err := withinPage(rc, page.CropBox, pageNo); err != nil {
			return "", nil, err
		}
		widget.Set("Rect", pdf.Array{pdf.NewReal(rc[0]), pdf.NewReal(rc[1]), pdf.NewReal(rc[2]), pdf.NewReal(rc[3])})
		widget.Set("F", pdf.Integer(4)) // print
		if fp.apBuilder != nil {
			ap, err := fp.apBuilder(u, rc)
			if err != nil {
				return "", nil, err
			}
			widget.Set("AP", pdf.NewDict(pdf.DictEntry{Key: "N", Value: ap}))
		}
	} else {
		widget.Set("Rect", pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)})
		widget.Set("F", pdf.Integer(132)) // print + locked
	}
	if !page.Ref.IsZero() {
		widget.Set("P", page.Ref)
	}
	wref := u.Add(widget)
	if err := addAnnot(r, u, page, wref); err != nil {
		return "", nil, err
	}
	return name, nil, setSigFlags(r, u, cat, af, &wref)
}

// emptySignatureField returns the name of the first empty signature field
// the signer can fill (an indirect field; with a rectangle of non-zero area
// when the signature is to be visible), or "".
func emptySignatureField(r *pdf.Reader, af *acroForm, visible bool) string {
	for _, f := range af.Fields {
		if !f.IsSignature() || f.Signed() || f.Ref.IsZero() || f.Name == "" {
			continue
		}
		if visible {
			rect, ok := r.Rect(f.Dict.Get("Rect"))
			if !ok || rect.URX <= rect.LLX || rect.URY <= rect.LLY {
				continue
			}
		}
		return f.Name
	}
	return ""
}

// fillSigField puts sigRef in the empty signature field f, drawing the stamp
// in its rectangle for a visible signature. It returns the field's /Lock
// and false (with nothing written) when f was picked by default and the
// stamp does not fit its rectangle.
func fillSigField(r *pdf.Reader, u *pdf.Update, f *field, sigRef pdf.Ref, fp fieldPlan) (*pdf.Dict, bool, error) {
	if !f.IsSignature() {
		return nil, false, fmt.Errorf("%w: field %q is a /%s field, not a signature field", ErrFieldNotFound, f.Name, f.FT)
	}
	if f.Signed() {
		return nil, false, fmt.Errorf("%w: %q", ErrFieldSigned, f.Name)
	}
	if f.Ref.IsZero() {
		return nil, false, fmt.Errorf("pades: signature field %q is a direct object and cannot be updated alone", f.Name)
	}
	nf := f.Dict.Clone()
	nf.Set("V", sigRef)
	if fp.visible != nil && fp.apBuilder != nil {
		// Draw into the field's own rectangle when it has one.
		if rect, ok := r.Rect(f.Dict.Get("Rect")); ok && rect.URX > rect.LLX && rect.URY > rect.LLY {
			ap, err := fp.apBuilder(u, [4]float64{rect.LLX, rect.LLY, rect.URX, rect.URY})
			if err != nil && fp.picked {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, err
			}
			nf.Set("AP", pdf.NewDict(pdf.DictEntry{Key: "N", Value: ap}))
		}
	}
	if err := u.Set(f.Ref, nf); err != nil {
		return nil, false, err
	}
	lock, _ := r.ResolveDict(f.Dict.Get("Lock"))
	return lock, true, nil
}

func uniqueFieldName(af *acroForm, docTS bool) string {
	prefix := "Signature"
	if docTS {
		prefix = "DocTimeStamp"
	}
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s%d", prefix, i)
		if af.find(n) == nil {
			return n
		}
	}
}

// addAnnot appends wref to the page's /Annots.
func addAnnot(r *pdf.Reader, u *pdf.Update, page *pdf.Page, wref pdf.Ref) error {
	raw := page.Dict.Get("Annots")
	if ref, ok := raw.(pdf.Ref); ok {
		o, err := r.Object(ref)
		if err != nil {
			return fmt.Errorf("pades: reading the page's /Annots: %w", err)
		}
		arr, _ := o.(pdf.Array)
		return u.Set(ref, append(append(pdf.Array(nil), arr...), wref))
	}
	arr, _ := raw.(pdf.Array)
	np := page.Dict.Clone()
	np.Set("Annots", append(append(pdf.Array(nil), arr...), wref))
	if !page.Ref.IsZero() {
		return u.Set(page.Ref, np)
	}
	// A direct page dictionary lives inside its parent's /Kids.
	if page.Parent.IsZero() {
		return errors.New("pades: the page is a direct object inside a direct page-tree node; cannot add an annotation")
	}
	parent, err := r.ResolveDict(page.Parent)
	if err != nil || parent == nil {
		return fmt.Errorf("pades: reading the page's parent node: %v", err)
	}
	kids, _ := mustResolve(r, parent.Get("Kids")).(pdf.Array)
	nk := append(pdf.Array(nil), kids...)
	found := false
	for i, k := range nk {
		if d, ok := k.(*pdf.Dict); ok && d == page.Dict {
			nk[i] = np
			found = true
		}
	}
	if !found {
		return errors.New("pades: could not locate the direct page in its parent's /Kids")
	}
	npar := parent.Clone()
	if _, isRef := parent.Get("Kids").(pdf.Ref); isRef {
		return u.Set(parent.Get("Kids").(pdf.Ref), nk)
	}
	npar.Set("Kids", nk)
	return u.Set(page.Parent, npar)
}

// setSigFlags sets /SigFlags 3 and, when newField is set, appends it to
// /Fields. cat is the catalog clone being written.
func setSigFlags(r *pdf.Reader, u *pdf.Update, cat *pdf.Dict, af *acroForm, newField *pdf.Ref) error {
	form := af.Dict.Clone() // an empty dict when there is none
	if newField != nil {
		raw := form.Get("Fields")
		if ref, ok := raw.(pdf.Ref); ok {
			arr, _ := mustResolve(r, ref).(pdf.Array)
			if err := u.Set(ref, append(append(pdf.Array(nil), arr...), *newField)); err != nil {
				return err
			}
		} else {
			arr, _ := raw.(pdf.Array)
			form.Set("Fields", append(append(pdf.Array(nil), arr...), *newField))
		}
	}
	flags, _ := pdf.Int(mustResolve(r, form.Get("SigFlags")))
	form.Set("SigFlags", pdf.Integer(flags|3))
	if !af.Ref.IsZero() {
		return u.Set(af.Ref, form)
	}
	if af.Dict == nil {
		cat.Set("AcroForm", u.Add(form))
		return nil
	}
	cat.Set("AcroForm", form) // it was direct in the catalog: it stays direct
	return nil
}

// estimateContentsSize sizes the /Contents placeholder from what goes in the
// CMS: certificates, signature value, attributes, and the timestamp token.
func estimateContentsSize(cert *x509.Certificate, chain []*x509.Certificate, lvl Level, remote bool) int {
	n := len(cert.Raw) + 1500 // signed attributes, algorithm identifiers, structure
	for _, c := range chain {
		n += len(c.Raw) + 8
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		n += k.Size()
	case *ecdsa.PublicKey:
		n += 2*(k.Curve.Params().BitSize+7)/8 + 9
	default:
		n += 1024
	}
	if lvl >= LevelBT {
		n += 7000 // a token with its TSA chain; checked, never truncated
	}
	if remote {
		n += 4096 // a phone cannot sign twice cheaply
	}
	return (n + 1023) / 1024 * 1024
}

// sigDictPlan builds a signature (or document timestamp) dictionary with
// ByteRange and Contents placeholders.
func sigDictPlan(subFilter pdf.Name, docTS bool, contentsSize int, opts *Options, now time.Time) *pdf.Dict {
	typ := pdf.Name("Sig")
	if docTS {
		typ = "DocTimeStamp"
	}
	d := pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: typ},
		pdf.DictEntry{Key: "Filter", Value: pdf.Name("Adobe.PPKLite")},
		pdf.DictEntry{Key: "SubFilter", Value: subFilter},
		pdf.DictEntry{Key: "ByteRange", Value: pdf.Placeholder{Kind: pdf.PlaceholderByteRange}},
		pdf.DictEntry{Key: "Contents", Value: pdf.Placeholder{Kind: pdf.PlaceholderContents, Size: contentsSize}},
	)
	if docTS {
		return d
	}
	d.Set("M", pdfDate(now))
	for _, kv := range []struct {
		k pdf.Name
		v string
	}{{"Name", opts.Name}, {"Reason", opts.Reason}, {"Location", opts.Location}, {"ContactInfo", opts.ContactInfo}} {
		if kv.v != "" {
			d.Set(kv.k, textString(kv.v))
		}
	}
	return d
}

// transforms builds the /Reference array: DocMDP for a certification, and
// FieldMDP for a lock requested or inherited from the field's /Lock.
func transforms(certify int, lock *FieldLock, fieldLock *pdf.Dict) pdf.Array {
	var refs pdf.Array
	if certify > 0 {
		refs = append(refs, pdf.NewDict(
			pdf.DictEntry{Key: "Type", Value: pdf.Name("SigRef")},
			pdf.DictEntry{Key: "TransformMethod", Value: pdf.Name("DocMDP")},
			pdf.DictEntry{Key: "TransformParams", Value: pdf.NewDict(
				pdf.DictEntry{Key: "Type", Value: pdf.Name("TransformParams")},
				pdf.DictEntry{Key: "P", Value: pdf.Integer(certify)},
				pdf.DictEntry{Key: "V", Value: pdf.Name("1.2")},
			)},
		))
	}
	fieldMDP := func(action pdf.Name, fields pdf.Object) {
		tp := pdf.NewDict(
			pdf.DictEntry{Key: "Type", Value: pdf.Name("TransformParams")},
			pdf.DictEntry{Key: "Action", Value: action},
		)
		if fields != nil {
			tp.Set("Fields", fields)
		}
		tp.Set("V", pdf.Name("1.2"))
		refs = append(refs, pdf.NewDict(
			pdf.DictEntry{Key: "Type", Value: pdf.Name("SigRef")},
			pdf.DictEntry{Key: "TransformMethod", Value: pdf.Name("FieldMDP")},
			pdf.DictEntry{Key: "TransformParams", Value: tp},
		))
	}
	if lock != nil {
		var fields pdf.Object
		if lock.Action != "All" {
			arr := pdf.Array{}
			for _, f := range lock.Fields {
				arr = append(arr, textString(f))
			}
			fields = arr
		}
		fieldMDP(pdf.Name(lock.Action), fields)
	}
	if fieldLock != nil {
		if a, ok := fieldLock.Name("Action"); ok {
			fieldMDP(a, fieldLock.Get("Fields"))
		}
	}
	return refs
}

// writeUpdate writes u, fills the ByteRange placeholder and returns the
// update bytes, the offset of the Contents placeholder in them, and the
// ByteRange.
func writeUpdate(u *pdf.Update, origSize int64) ([]byte, int, int, [4]int64, error) {
	var buf bytes.Buffer
	res, err := u.Write(&buf)
	if err != nil {
		return nil, 0, 0, [4]int64{}, fmt.Errorf("pades: writing the update: %w", err)
	}
	upd := buf.Bytes()
	var cPos, brPos *pdf.PlaceholderPos
	for i := range res.Placeholders {
		p := &res.Placeholders[i]
		switch p.Kind {
		case pdf.PlaceholderContents:
			cPos = p
		case pdf.PlaceholderByteRange:
			brPos = p
		}
	}
	if cPos == nil || brPos == nil {
		return nil, 0, 0, [4]int64{}, errors.New("pades: the writer reported no placeholders")
	}
	a := cPos.Offset
	b := cPos.Offset + int64(cPos.Width)
	br := [4]int64{0, a, b, res.End - b}
	brBytes, err := pdf.FormatByteRange(br)
	if err != nil {
		return nil, 0, 0, br, err
	}
	copy(upd[brPos.Offset-origSize:], brBytes)
	return upd, int(a - origSize), cPos.Width, br, nil
}

// hashByteRange streams the document's bytes [0, origSize) followed by the
// update, skipping the Contents placeholder, into h.
func hashByteRange(ctx context.Context, h hash.Hash, in io.ReaderAt, origSize int64, upd []byte, cOff, cWidth int) error {
	if err := copyRange(ctx, h, in, 0, origSize); err != nil {
		return err
	}
	hashSkipping(h, upd, cOff, cWidth)
	return nil
}

// hashSkipping hashes an incremental update without the /Contents
// placeholder [cOff, cOff+cWidth): the update's part of the ByteRange.
func hashSkipping(h hash.Hash, upd []byte, cOff, cWidth int) {
	h.Write(upd[:cOff])
	h.Write(upd[cOff+cWidth:])
}

// copyBufSize is the streaming buffer: large enough to amortise syscalls,
// small enough to keep memory flat.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyRange copies in[off, off+n) to w, checking ctx between blocks.
func copyRange(ctx context.Context, w io.Writer, in io.ReaderAt, off, n int64) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(int64(len(buf)), n)
		m, err := in.ReadAt(buf[:k], off)
		if int64(m) < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("pades: reading the input: %w", err)
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

// Prepare plans a signature by cert over the document in[0:size): it builds
// the incremental update (signature dictionary, field, widget, appearance)
// and the CMS signed attributes. Sign the returned DigestToSign with the
// key of cert, then call Complete.
func Prepare(ctx context.Context, in io.ReaderAt, size int64, cert *x509.Certificate, chain []*x509.Certificate, opts *Options) (*Prepared, error) {
	if opts == nil {
		opts = &Options{}
	}
	p, err := plan(in, size, cert, opts, false, chain)
	if err != nil {
		return nil, err
	}
	h := opts.hash().New()
	if err := hashByteRange(ctx, h, in, size, p.Update, p.ContentsOffset, 2*p.ContentsSize+2); err != nil {
		return nil, err
	}
	if err := p.setDigest(h.Sum(nil), cert, chain, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// setDigest records the ByteRange digest and prepares the CMS attributes.
func (p *Prepared) setDigest(digest []byte, cert *x509.Certificate, chain []*x509.Certificate, opts *Options) error {
	pend, err := cms.Prepare(cms.Params{ContentDigest: digest, Hash: opts.hash(), Certificate: cert, Chain: chain, PSS: opts.PSS})
	if err != nil {
		return err
	}
	p.ContentDigest, p.Pending = digest, *pend
	return nil
}

// plan builds the incremental update of a signature by cert, without
// hashing the document: a Prepared with Update, ByteRange and the
// placeholder's place, but no digest yet.
func plan(in io.ReaderAt, size int64, cert *x509.Certificate, opts *Options, remote bool, chain []*x509.Certificate) (*Prepared, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if cert == nil {
		return nil, errors.New("pades: no signer certificate")
	}
	r, cat, catRef, err := openForUpdate(in, size, opts.Password)
	if err != nil {
		return nil, err
	}
	if opts.level() == LevelBLTA && !r.Encrypted().Allows(pdf.PermAnnotate) {
		return nil, fmt.Errorf("%w: B-LTA adds a document timestamp field, and only filling in existing form fields is permitted (/P bit 9 without bit 6); sign at B-LT", ErrNotPermitted)
	}
	af, err := readAcroForm(r, cat)
	if err != nil {
		return nil, err
	}
	switch p := docMDP(r, cat); {
	case p == 1:
		return nil, ErrCertifiedNoChanges
	case p > 0 && opts.Certify > 0:
		return nil, ErrAlreadyCertified
	}
	if opts.Certify > 0 && af.signatureCount() > 0 {
		return nil, ErrAlreadyCertified
	}
	if opts.Field != "" && isLockedByEarlier(r, af, opts.Field) {
		return nil, fmt.Errorf("%w: %q", ErrFieldLocked, opts.Field)
	}
	now := opts.Time
	if now.IsZero() {
		now = time.Now()
	}
	csize := opts.ContentsSize
	if csize == 0 {
		csize = estimateContentsSize(cert, chain, opts.level(), remote)
	}
	u := r.NewUpdate()
	u.SetCompress(true)
	sig := sigDictPlan("ETSI.CAdES.detached", false, csize, opts, now)
	sigRef := u.Alloc()
	newCat := cat.Clone()
	fp := fieldPlan{name: opts.Field, visible: opts.Visible}
	if fp.name == "" && !opts.NewField {
		fp.name = emptySignatureField(r, af, opts.Visible != nil)
		fp.picked = fp.name != ""
	}
	if opts.Visible != nil {
		fp.apBuilder = func(u *pdf.Update, rect [4]float64) (pdf.Ref, error) {
			return buildAppearance(u, rect, opts, cert, now)
		}
	}
	name, fieldLock, err := placeField(r, u, newCat, af, sigRef, fp)
	if err != nil {
		return nil, err
	}
	if refs := transforms(opts.Certify, opts.Lock, fieldLock); len(refs) > 0 {
		sig.Set("Reference", refs)
	}
	if opts.Certify > 0 {
		perms, _ := r.ResolveDict(cat.Get("Perms"))
		np := perms.Clone()
		np.Set("DocMDP", sigRef)
		newCat.Set("Perms", np)
	}
	if err := u.Set(sigRef, sig); err != nil {
		return nil, err
	}
	if err := u.Set(catRef, newCat); err != nil {
		return nil, err
	}
	upd, cOff, _, br, err := writeUpdate(u, size)
	if err != nil {
		return nil, err
	}
	return &Prepared{OriginalSize: size, Update: upd, ContentsOffset: cOff, ContentsSize: csize, ByteRange: br, Field: name}, nil
}

// ErrStampOutsidePage: a visible signature's rectangle does not lie
// within its page's crop box (where a reader shows the page).
var ErrStampOutsidePage = errors.New("pades: the visible signature lies outside the page")

// Stamp placement in a corner: the default size and the margin from the
// crop box's edges, in points.
const (
	StampWidth, StampHeight = 200.0, 60.0
	StampMargin             = 30.0
)

// placeStamp is v's rectangle: v.Rect, or with v.Corner set, a rectangle
// of v.Rect's size (StampWidth × StampHeight when v.Rect is zero) in that
// corner of the crop box, StampMargin from its edges.
func placeStamp(v *Visible, box pdf.Rect) ([4]float64, error) {
	if v.Corner == "" {
		return v.Rect, nil
	}
	w, h := abs(v.Rect[2]-v.Rect[0]), abs(v.Rect[3]-v.Rect[1])
	if v.Rect == [4]float64{} {
		w, h = StampWidth, StampHeight
	}
	var x, y float64
	switch v.Corner {
	case "bottom-left", "top-left":
		x = box.LLX + StampMargin
	case "bottom-right", "top-right":
		x = box.URX - StampMargin - w
	default:
		return [4]float64{}, fmt.Errorf("%w: corner %q: want bottom-left, bottom-right, top-left or top-right", ErrStampOutsidePage, v.Corner)
	}
	y = box.LLY + StampMargin
	if v.Corner == "top-left" || v.Corner == "top-right" {
		y = box.URY - StampMargin - h
	}
	return [4]float64{x, y, x + w, y + h}, nil
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// withinPage checks that rc lies within the crop box of page n (a little
// rounding allowed).
func withinPage(rc [4]float64, box pdf.Rect, n int) error {
	x1, x2 := min(rc[0], rc[2]), max(rc[0], rc[2])
	y1, y2 := min(rc[1], rc[3]), max(rc[1], rc[3])
	const eps = 0.5
	if x1 < box.LLX-eps || y1 < box.LLY-eps || x2 > box.URX+eps || y2 > box.URY+eps {
		return fmt.Errorf("%w: the rectangle %g,%g,%g,%g is not within page %d's visible area %g,%g,%g,%g; place it inside (or use a corner)",
			ErrStampOutsidePage, rc[0], rc[1], rc[2], rc[3], n, box.LLX, box.LLY, box.URX, box.URY)
	}
	return nil
}

// isLockedByEarlier tells whether an existing signature's FieldMDP (or the
// /Lock of the field it signed) locks the named field.
func isLockedByEarlier(r *pdf.Reader, af *acroForm, name string) bool {
	for _, f := range af.Fields {
		if !f.IsSignature() || !f.Signed() {
			continue
		}
		sd, err := r.ResolveDict(f.Value)
		if err != nil || sd == nil {
			continue
		}
		if locksField(locksOf(r, sd, f.Dict), name) {
			return true
		}
	}
	return false
}

// lockRule is one FieldMDP rule: Action All, Include or Exclude over
// fully qualified field names.
type lockRule struct {
	action pdf.Name
	fields map[string]bool
}

func (l lockRule) locks(name string) bool {
	switch l.action {
	case "All":
		return true
	case "Include":
		return l.fields[name]
	case "Exclude":
		return !l.fields[name]
	}
	return false
}

func locksField(rules []lockRule, name string) bool {
	for _, l := range rules {
		if l.locks(name) {
			return true
		}
	}
	return false
}

// locksOf reads the field locks a signature applies: the FieldMDP
// transforms in its /Reference and the /Lock of the signature field it
// fills (ISO 32000-1 12.7.4.5 and 12.8.2.4).
func locksOf(r *pdf.Reader, sigDict, fieldDict *pdf.Dict) []lockRule {
	var rules []lockRule
	rule := func(d *pdf.Dict) {
		if d == nil {
			return
		}
		action, _ := d.Name("Action")
		l := lockRule{action: action, fields: map[string]bool{}}
		names, _ := mustResolve(r, d.Get("Fields")).(pdf.Array)
		for _, n := range names {
			l.fields[textOf(mustResolve(r, n))] = true
		}
		rules = append(rules, l)
	}
	refs, _ := mustResolve(r, sigDict.Get("Reference")).(pdf.Array)
	for _, o := range refs {
		sr, _ := r.ResolveDict(o)
		if sr == nil {
			continue
		}
		if m, _ := sr.Name("TransformMethod"); m == "FieldMDP" {
			tp, _ := r.ResolveDict(sr.Get("TransformParams"))
			rule(tp)
		}
	}
	if fieldDict != nil {
		l, _ := r.ResolveDict(fieldDict.Get("Lock"))
		rule(l)
	}
	return rules
}
