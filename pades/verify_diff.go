package pades

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/semnat/semnat/pades/pdf"
)

// Change kinds, from harmless to forbidden (pades.md §4.3).
const (
	changeLTA        = "lta"        // DSS, document timestamp, bookkeeping
	changeSignature  = "signature"  // a new signature, or an empty signature field signed
	changeForm       = "form"       // form field values and their appearances
	changeMetadata   = "metadata"   // /Info, XMP /Metadata, /Version
	changeAnnotation = "annotation" // annotations created, removed or changed
	changeForbidden  = "forbidden"  // anything else
)

// revisionDiff is what one revision changed compared with the previous one.
type revisionDiff struct {
	changes []Change
	err     error
}

// allowedKind says whether a change kind is allowed after a signature of
// this document: DocMDP P=1 allows only LTA updates, P=2 adds signing and
// form filling (and metadata), P=3 and uncertified documents add
// annotations.
func (v *verifier) allowedKind(kind string) bool {
	switch kind {
	case changeLTA:
		return true
	case changeForbidden:
		return false
	}
	switch v.docMDP {
	case 1:
		return false
	case 2:
		return kind != changeAnnotation
	}
	return true
}

// modifications sends every revision after the signed one through the
// diff analysis.
func (v *verifier) modifications(s *sigState) {
	revs := v.r.Revisions()
	if s.rev < 0 {
		return
	}
	s.rep.Checks.Modifications = CheckPassed
	var fieldDict *pdf.Dict
	if s.field != nil {
		fieldDict = s.field.Dict
	}
	locks := locksOf(v.r, s.dict, fieldDict)
	for j := s.rev + 1; j < len(revs); j++ {
		rd := v.diff(j)
		if rd.err != nil {
			s.verdict(Indeterminate, SignedDataNotFound, "revision %d cannot be compared with the previous one: %v", j+1, rd.err)
			s.rep.Checks.Modifications = CheckIndeterminate
			continue
		}
		for _, c := range rd.changes {
			c.Allowed = v.allowedKind(c.Kind)
			if c.Allowed && c.Field != "" && c.Kind != changeLTA && locksField(locks, c.Field) {
				c.Allowed = false
				s.rep.Changes = append(s.rep.Changes, c)
				s.verdict(TotalFailed, FormatFailure, "revision %d after the signature: %s (the field is locked by this signature: FieldMDP)", j+1, c.What)
				s.rep.Checks.Modifications = CheckFailed
				continue
			}
			s.rep.Changes = append(s.rep.Changes, c)
			if !c.Allowed {
				why := "not an allowed change"
				if c.Kind != changeForbidden {
					why = fmt.Sprintf("%s changes are not allowed", c.Kind)
					if v.docMDP > 0 {
						why += fmt.Sprintf(" by the certification (DocMDP P=%d)", v.docMDP)
					}
				}
				s.verdict(TotalFailed, FormatFailure, "revision %d after the signature: %s (%s)", j+1, c.What, why)
				s.rep.Checks.Modifications = CheckFailed
			}
		}
	}
}

func (v *verifier) diff(j int) *revisionDiff {
	if rd, ok := v.diffs[j]; ok {
		return rd
	}
	if v.diffs == nil {
		v.diffs = map[int]*revisionDiff{}
	}
	rd := &revisionDiff{}
	rd.err = v.analyze(j, rd)
	v.diffs[j] = rd
	return rd
}

// roles of the objects of the previous revision the rules know about.
type prevRoles struct {
	catalog   pdf.Ref
	acroForm  pdf.Ref
	fieldsArr pdf.Ref
	pages     map[pdf.Ref]int    // page object -> page number (1-based)
	annots    map[pdf.Ref]int    // indirect /Annots arrays -> page number
	fields    map[pdf.Ref]*field // terminal fields
	widgets   map[pdf.Ref]*field // widget kids of terminal fields
	dss       map[pdf.Ref]bool   // objects of the DSS
	metadata  map[pdf.Ref]bool   // /Info and XMP /Metadata
}

const maxDiffPages = 100000

func (v *verifier) roles(prev *pdf.Reader) (*prevRoles, error) {
	ro := &prevRoles{pages: map[pdf.Ref]int{}, annots: map[pdf.Ref]int{}, fields: map[pdf.Ref]*field{},
		widgets: map[pdf.Ref]*field{}, dss: map[pdf.Ref]bool{}, metadata: map[pdf.Ref]bool{}}
	tr := prev.Trailer()
	ro.catalog, _ = tr.Get("Root").(pdf.Ref)
	if ref, ok := tr.Get("Info").(pdf.Ref); ok {
		ro.metadata[ref] = true
	}
	cat, err := prev.Catalog()
	if err != nil {
		return nil, err
	}
	if ref, ok := cat.Get("Metadata").(pdf.Ref); ok {
		ro.metadata[ref] = true
	}
	ro.acroForm, _ = cat.Get("AcroForm").(pdf.Ref)
	if afd, _ := prev.ResolveDict(cat.Get("AcroForm")); afd != nil {
		ro.fieldsArr, _ = afd.Get("Fields").(pdf.Ref)
	}
	af, err := readAcroForm(prev, cat)
	if err != nil {
		return nil, err
	}
	for _, f := range af.Fields {
		if !f.Ref.IsZero() {
			ro.fields[f.Ref] = f
		}
		kids, _ := mustResolve(prev, f.Dict.Get("Kids")).(pdf.Array)
		for _, k := range kids {
			if ref, ok := k.(pdf.Ref); ok {
				ro.widgets[ref] = f
			}
		}
	}
	if dssRef, ok := cat.Get("DSS").(pdf.Ref); ok {
		ro.dss[dssRef] = true
	}
	if dss, _ := prev.ResolveDict(cat.Get("DSS")); dss != nil {
		for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs", "VRI"} {
			if ref, ok := dss.Get(k).(pdf.Ref); ok {
				ro.dss[ref] = true
			}
		}
		if vri, _ := prev.ResolveDict(dss.Get("VRI")); vri != nil {
			for _, e := range vri.Entries() {
				if ref, ok := e.Value.(pdf.Ref); ok {
					ro.dss[ref] = true
				}
			}
		}
	}
	n, err := prev.NumPages()
	if err != nil {
		return nil, err
	}
	if n > maxDiffPages {
		return nil, fmt.Errorf("%d pages (limit %d)", n, maxDiffPages)
	}
	for i := 0; i < n; i++ {
		p, err := prev.Page(i)
		if err != nil {
			return nil, err
		}
		if !p.Ref.IsZero() {
			ro.pages[p.Ref] = i + 1
		}
		if ref, ok := p.Dict.Get("Annots").(pdf.Ref); ok {
			ro.annots[ref] = i + 1
		}
	}
	return ro, nil
}

// analyze compares revision j with revision j-1, object by object.
func (v *verifier) analyze(j int, rd *revisionDiff) error {
	prev, err := v.viewAt(j - 1)
	if err != nil {
		return err
	}
	cur, err := v.viewAt(j)
	if err != nil {
		return err
	}
	add := func(kind, format string, args ...any) {
		rd.changes = append(rd.changes, Change{Revision: j, Kind: kind, What: fmt.Sprintf(format, args...)})
	}
	addField := func(field, kind, format string, args ...any) {
		rd.changes = append(rd.changes, Change{Revision: j, Kind: kind, Field: field, What: fmt.Sprintf(format, args...)})
	}
	ro, err := v.roles(prev)
	if err != nil {
		return err
	}
	pt, ct := prev.Trailer(), cur.Trailer()
	if !sameRef(pt.Get("Root"), ct.Get("Root")) {
		add(changeForbidden, "the trailer's /Root points to another catalog (%v instead of %v)", ct.Get("Root"), pt.Get("Root"))
	}
	if !sameRef(pt.Get("Encrypt"), ct.Get("Encrypt")) {
		add(changeForbidden, "the trailer's /Encrypt changed")
	}
	if !sameRef(pt.Get("Info"), ct.Get("Info")) {
		add(changeMetadata, "the document information dictionary (/Info) changed")
	}
	c := &differ{v: v, prev: prev, cur: cur, ro: ro, add: add, addField: addField}
	var revived []uint32
	for _, e := range v.r.Revisions()[j].Entries() {
		if e.Num == 0 {
			continue
		}
		if err := v.ctx.Err(); err != nil {
			return err
		}
		pe, existed := prev.Lookup(e.Num)
		inUse := existed && pe.Type != pdf.EntryFree
		if pe != e {
			// An entry that does not lead to its object makes readers
			// rescan the file (each its own way): a finding in itself,
			// and never resolved here.
			if err := cur.CheckEntry(e); err != nil {
				add(changeForbidden, "%s; readers rescan such a file, each its own way, and may show different documents", strings.TrimPrefix(err.Error(), pdf.ErrDamaged.Error()+": "))
				continue
			}
		}
		if e.Type == pdf.EntryFree {
			if inUse {
				add(changeForbidden, "object %d is deleted (freed)", e.Num)
			}
			continue
		}
		if !inUse {
			// A new object: judged through what references it, unless
			// the previous revision already referenced the number (the
			// reference read as null): then unchanged objects show it.
			revived = append(revived, e.Num)
			continue
		}
		if pe == e {
			continue
		}
		oldRef, newRef := pdf.Ref{Num: e.Num, Gen: pe.Gen}, pdf.Ref{Num: e.Num, Gen: e.Gen}
		if pe.Gen != e.Gen {
			add(changeForbidden, "object %d is replaced by a new generation", e.Num)
			continue
		}
		oldObj, err := prev.Object(oldRef)
		if err != nil {
			return fmt.Errorf("object %v in revision %d: %w", oldRef, j, err)
		}
		newObj, err := cur.Object(newRef)
		if err != nil {
			return fmt.Errorf("object %v in revision %d: %w", newRef, j+1, err)
		}
		eq, err := c.equal(oldObj, newObj, 0)
		if err != nil {
			return err
		}
		if eq {
			continue
		}
		c.changed(oldRef, oldObj, newObj)
	}
	if len(revived) > 0 {
		refd, err := referencedIn(v, prev, revived)
		if err != nil {
			return fmt.Errorf("revision %d: %w", j, err)
		}
		for _, num := range refd {
			add(changeForbidden, "object %d is defined, but the previous revision already referenced it (there it was free or missing and read as null): signed objects now show content that was not signed", num)
		}
	}
	return nil
}

// maxWalkObjects bounds the objects referencedIn visits.
const maxWalkObjects = 4 << 20

// referencedIn returns the numbers among nums that an object reachable
// from r's trailer (/Root, /Info) references. Streams' data are not read:
// only dictionaries and arrays hold references.
func referencedIn(v *verifier, r *pdf.Reader, nums []uint32) ([]uint32, error) {
	want := make(map[uint32]bool, len(nums))
	for _, n := range nums {
		want[n] = true
	}
	found := map[uint32]bool{}
	seen := map[uint32]bool{}
	var stack []pdf.Object
	tr := r.Trailer()
	stack = append(stack, tr.Get("Root"), tr.Get("Info"))
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := o.(type) {
		case pdf.Ref:
			if want[x.Num] {
				found[x.Num] = true
			}
			if seen[x.Num] {
				continue
			}
			seen[x.Num] = true
			if len(seen) > maxWalkObjects {
				return nil, fmt.Errorf("more than %d objects reachable", maxWalkObjects)
			}
			if len(seen)%4096 == 0 {
				if err := v.ctx.Err(); err != nil {
					return nil, err
				}
			}
			if e, ok := r.Lookup(x.Num); !ok || e.Type == pdf.EntryFree {
				continue
			}
			d, err := r.Object(x)
			if err != nil {
				return nil, fmt.Errorf("object %v: %w", x, err)
			}
			stack = append(stack, d)
		case *pdf.Stream:
			stack = append(stack, x.Dict)
		case *pdf.Dict:
			for _, e := range x.Entries() {
				switch e.Value.(type) {
				case pdf.Ref, *pdf.Dict, pdf.Array:
					stack = append(stack, e.Value)
				}
			}
		case pdf.Array:
			for _, e := range x {
				switch e.(type) {
				case pdf.Ref, *pdf.Dict, pdf.Array:
					stack = append(stack, e)
				}
			}
		}
	}
	var out []uint32
	for _, n := range nums {
		if found[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func sameRef(a, b pdf.Object) bool {
	ra, oka := a.(pdf.Ref)
	rb, okb := b.(pdf.Ref)
	if oka != okb {
		return false
	}
	if !oka {
		return a == nil && b == nil || fmt.Sprint(a) == fmt.Sprint(b)
	}
	return ra == rb
}

// differ holds what the object rules need.
type differ struct {
	v         *verifier
	prev, cur *pdf.Reader
	ro        *prevRoles
	add       func(kind, format string, args ...any)
	addField  func(field, kind, format string, args ...any)
}

const maxEqualDepth = 64

// equal compares two objects structurally (references by number, streams
// by dictionary and raw bytes).
func (c *differ) equal(a, b pdf.Object, depth int) (bool, error) {
	if depth > maxEqualDepth {
		return false, nil
	}
	switch x := a.(type) {
	case *pdf.Dict:
		y, ok := b.(*pdf.Dict)
		if !ok || x.Len() != y.Len() {
			return false, nil
		}
		for _, e := range x.Entries() {
			if !y.Has(e.Key) {
				return false, nil
			}
			eq, err := c.equal(e.Value, y.Get(e.Key), depth+1)
			if err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false, nil
		}
		for i := range x {
			eq, err := c.equal(x[i], y[i], depth+1)
			if err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok {
			return false, nil
		}
		eq, err := c.equal(x.Dict, y.Dict, depth+1)
		if err != nil || !eq {
			return false, err
		}
		if x.Length != y.Length {
			return false, nil
		}
		if x.Offset == y.Offset {
			return true, nil
		}
		return c.sameRaw(x, y)
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && bytes.Equal(x.Value, y.Value), nil
	case pdf.Real:
		y, ok := b.(pdf.Real)
		return ok && x.String() == y.String(), nil
	case nil, pdf.Null:
		switch b.(type) {
		case nil, pdf.Null:
			return true, nil
		}
		return false, nil
	}
	return a == b, nil
}

// sameRaw compares the raw data of two streams.
func (c *differ) sameRaw(x, y *pdf.Stream) (bool, error) {
	if x.Length > 64<<20 {
		return false, nil
	}
	rx, err := c.prev.RawStreamReader(x)
	if err != nil {
		return false, nil
	}
	ry, err := c.cur.RawStreamReader(y)
	if err != nil {
		return false, nil
	}
	bx, by := make([]byte, 32<<10), make([]byte, 32<<10)
	for {
		nx, ex := io.ReadFull(rx, bx)
		ny, ey := io.ReadFull(ry, by)
		if nx != ny || !bytes.Equal(bx[:nx], by[:ny]) {
			return false, nil
		}
		if ex != nil || ey != nil {
			return ex != nil && ey != nil, nil
		}
	}
}

func typeOf(o pdf.Object) string {
	var d *pdf.Dict
	switch x := o.(type) {
	case *pdf.Dict:
		d = x
	case *pdf.Stream:
		d = x.Dict
	case pdf.Array:
		return "array"
	default:
		return fmt.Sprintf("%T", o)
	}
	t, _ := d.Name("Type")
	st, _ := d.Name("Subtype")
	switch {
	case t != "" && st != "":
		return "/" + string(t) + " /" + string(st)
	case t != "":
		return "/" + string(t)
	case st != "":
		return "/" + string(st)
	}
	if _, ok := o.(*pdf.Stream); ok {
		return "stream"
	}
	return "dictionary"
}

// changed applies the whitelist to one object the revision redefines.
func (c *differ) changed(ref pdf.Ref, oldObj, newObj pdf.Object) {
	ro := c.ro
	switch {
	case ref == ro.catalog:
		c.catalog(oldObj, newObj)
	case ro.dss[ref]:
		c.add(changeLTA, "the document security store (/DSS) is extended")
	case ro.metadata[ref]:
		c.add(changeMetadata, "document metadata (object %d) changed", ref.Num)
	case ref == ro.acroForm:
		od, _ := oldObj.(*pdf.Dict)
		nd, _ := newObj.(*pdf.Dict)
		c.acroForm(od, nd)
	case ref == ro.fieldsArr:
		c.fieldsArray(oldObj, newObj)
	case ro.pages[ref] > 0:
		c.page(ro.pages[ref], oldObj, newObj)
	case ro.annots[ref] > 0:
		c.annotsChange(ro.annots[ref], oldObj, newObj)
	case ro.fields[ref] != nil:
		c.fieldChange(ro.fields[ref], oldObj, newObj, false)
	case ro.widgets[ref] != nil:
		c.fieldChange(ro.widgets[ref], oldObj, newObj, true)
	default:
		if _, ok := oldObj.(*pdf.Stream); ok {
			if od, _ := oldObj.(*pdf.Stream); od != nil {
				if t, _ := od.Dict.Name("Type"); t == "ObjStm" {
					c.add(changeForbidden, "object stream %d is redefined (the objects stored in it change without appearing in the xref)", ref.Num)
					return
				}
				if t, _ := od.Dict.Name("Type"); t == "XRef" {
					return // an old xref stream: bookkeeping, never resolved as content
				}
			}
			c.add(changeForbidden, "stream object %d (%s) is overwritten", ref.Num, typeOf(oldObj))
			return
		}
		c.add(changeForbidden, "object %d (%s) changed", ref.Num, typeOf(oldObj))
	}
}

func (c *differ) keyDiff(od, nd *pdf.Dict) []pdf.Name {
	var out []pdf.Name
	seen := map[pdf.Name]bool{}
	for _, d := range []*pdf.Dict{od, nd} {
		if d == nil {
			continue
		}
		for _, k := range d.Keys() {
			if seen[k] {
				continue
			}
			seen[k] = true
			var a, b pdf.Object
			if od != nil {
				a = od.Get(k)
			}
			if nd != nil {
				b = nd.Get(k)
			}
			if eq, _ := c.equal(a, b, 0); !eq {
				out = append(out, k)
			}
		}
	}
	return out
}

func (c *differ) catalog(oldObj, newObj pdf.Object) {
	od, _ := oldObj.(*pdf.Dict)
	nd, _ := newObj.(*pdf.Dict)
	if od == nil || nd == nil {
		c.add(changeForbidden, "the catalog is replaced by a non-dictionary")
		return
	}
	for _, k := range c.keyDiff(od, nd) {
		switch k {
		case "DSS":
			c.add(changeLTA, "the catalog's /DSS is added or replaced")
		case "Extensions":
			c.add(changeLTA, "the catalog's /Extensions changed")
		case "Metadata", "Version":
			c.add(changeMetadata, "the catalog's /%s changed", k)
		case "AcroForm":
			oa, na := od.Get("AcroForm"), nd.Get("AcroForm")
			if _, ok := oa.(pdf.Ref); ok || oa == nil {
				if _, ok := oa.(pdf.Ref); ok {
					c.add(changeForbidden, "the catalog's /AcroForm is replaced by another form")
					continue
				}
				// A form is created.
				naf, _ := c.cur.ResolveDict(na)
				c.acroForm(nil, naf)
				continue
			}
			oaf, _ := oa.(*pdf.Dict)
			naf, _ := c.cur.ResolveDict(na)
			c.acroForm(oaf, naf)
		case "Perms":
			op, _ := c.prev.ResolveDict(od.Get("Perms"))
			np, _ := c.cur.ResolveDict(nd.Get("Perms"))
			var a, b pdf.Object
			if op != nil {
				a = op.Get("DocMDP")
			}
			if np != nil {
				b = np.Get("DocMDP")
			}
			if !sameRef(a, b) {
				c.add(changeForbidden, "the certification (/Perms /DocMDP) changed")
			} else {
				c.add(changeSignature, "the catalog's /Perms changed (DocMDP unchanged)")
			}
		default:
			c.add(changeForbidden, "the catalog's /%s changed", k)
		}
	}
}

func (c *differ) acroForm(od, nd *pdf.Dict) {
	if nd == nil {
		c.add(changeForbidden, "the interactive form (/AcroForm) is removed")
		return
	}
	for _, k := range c.keyDiff(od, nd) {
		switch k {
		case "Fields":
			var of pdf.Object
			if od != nil {
				of = od.Get("Fields")
			}
			if _, ok := of.(pdf.Ref); ok && sameRef(of, nd.Get("Fields")) {
				continue
			}
			c.fieldsArray(mustResolve(c.prev, of), mustResolve(c.cur, nd.Get("Fields")))
		case "SigFlags":
			c.add(changeLTA, "/AcroForm /SigFlags set")
		case "NeedAppearances":
			c.add(changeForm, "/AcroForm /NeedAppearances changed")
		default:
			c.add(changeForbidden, "/AcroForm /%s changed", k)
		}
	}
}

// fieldsArray allows only fields appended to /Fields, and judges them.
func (c *differ) fieldsArray(oldObj, newObj pdf.Object) {
	oa, _ := oldObj.(pdf.Array)
	na, ok := newObj.(pdf.Array)
	if !ok {
		c.add(changeForbidden, "/AcroForm /Fields is not an array any more")
		return
	}
	if len(na) < len(oa) {
		c.add(changeForbidden, "form fields are removed from /AcroForm /Fields")
		return
	}
	for i := range oa {
		if eq, _ := c.equal(oa[i], na[i], 0); !eq {
			c.add(changeForbidden, "/AcroForm /Fields entry %d is replaced", i)
			return
		}
	}
	for _, o := range na[len(oa):] {
		c.newField(o)
	}
}

// newField judges a field added to the form: only signature fields.
func (c *differ) newField(o pdf.Object) {
	fd, _ := c.cur.ResolveDict(o)
	if fd == nil {
		c.add(changeForbidden, "a non-dictionary is added to /AcroForm /Fields")
		return
	}
	name := textOf(mustResolve(c.cur, fd.Get("T")))
	if ft, _ := fd.Name("FT"); ft != "Sig" {
		c.add(changeForbidden, "a new form field %q of type /%s is added (only signature fields may be added)", name, ft)
		return
	}
	if c.isDocTimestamp(fd.Get("V")) {
		c.add(changeLTA, "a document timestamp field %q is added", name)
		return
	}
	if c.visible(fd) && c.v.docMDP > 0 && !c.v.opts.Policy.AllowVisibleSignatureAfterCertification {
		c.add(changeForbidden, "a visible signature field %q is added after the certification (sneaky signature)", name)
		return
	}
	c.add(changeSignature, "a signature field %q is added", name)
}

func (c *differ) isDocTimestamp(v pdf.Object) bool {
	d, _ := c.cur.ResolveDict(v)
	if d == nil {
		return false
	}
	t, _ := d.Name("Type")
	sf, _ := d.Name("SubFilter")
	return t == "DocTimeStamp" || sf == "ETSI.RFC3161"
}

// visible says whether a field or widget (or one of its kid widgets) has a
// rectangle of non-zero area.
func (c *differ) visible(fd *pdf.Dict) bool {
	if rect, ok := c.cur.Rect(fd.Get("Rect")); ok && rect.URX-rect.LLX > 0 && rect.URY-rect.LLY > 0 {
		if f, ok := pdf.Int(mustResolve(c.cur, fd.Get("F"))); !ok || f&2 == 0 { // not hidden
			return true
		}
	}
	kids, _ := mustResolve(c.cur, fd.Get("Kids")).(pdf.Array)
	for i, k := range kids {
		if i > 64 {
			break
		}
		if kd, _ := c.cur.ResolveDict(k); kd != nil && kd != fd && !kd.Has("T") {
			if rect, ok := c.cur.Rect(kd.Get("Rect")); ok && rect.URX-rect.LLX > 0 && rect.URY-rect.LLY > 0 {
				return true
			}
		}
	}
	return false
}

func (c *differ) page(n int, oldObj, newObj pdf.Object) {
	od, _ := oldObj.(*pdf.Dict)
	nd, _ := newObj.(*pdf.Dict)
	if od == nil || nd == nil {
		c.add(changeForbidden, "page %d is replaced by a non-dictionary", n)
		return
	}
	for _, k := range c.keyDiff(od, nd) {
		if k != "Annots" {
			c.add(changeForbidden, "page %d: /%s changed", n, k)
			continue
		}
		c.annotsChange(n, mustResolve(c.prev, od.Get("Annots")), mustResolve(c.cur, nd.Get("Annots")))
	}
}

// annotsChange judges a page's annotation list: removed annotations,
// added ones (signature widgets, other annotations).
func (c *differ) annotsChange(n int, oldObj, newObj pdf.Object) {
	oa, _ := oldObj.(pdf.Array)
	na, _ := newObj.(pdf.Array)
	key := func(o pdf.Object) string {
		if r, ok := o.(pdf.Ref); ok {
			return r.String()
		}
		return fmt.Sprintf("%p", o)
	}
	old := map[string]bool{}
	for _, o := range oa {
		old[key(o)] = true
	}
	now := map[string]bool{}
	for _, o := range na {
		now[key(o)] = true
		if old[key(o)] {
			continue
		}
		ad, _ := c.cur.ResolveDict(o)
		if ad == nil {
			c.add(changeForbidden, "page %d: a non-dictionary is added to /Annots", n)
			continue
		}
		st, _ := ad.Name("Subtype")
		if st == "Widget" {
			ft, _ := ad.Name("FT")
			if ft == "" {
				if p, _ := c.cur.ResolveDict(ad.Get("Parent")); p != nil {
					ft, _ = p.Name("FT")
				}
			}
			if ft == "Sig" {
				v := ad.Get("V")
				if v == nil {
					if p, _ := c.cur.ResolveDict(ad.Get("Parent")); p != nil {
						v = p.Get("V")
					}
				}
				switch {
				case c.isDocTimestamp(v):
					c.add(changeLTA, "page %d: the widget of a document timestamp is added", n)
				case c.visible(ad) && c.v.docMDP > 0 && !c.v.opts.Policy.AllowVisibleSignatureAfterCertification:
					c.add(changeForbidden, "page %d: a visible signature widget is added after the certification (sneaky signature)", n)
				default:
					c.add(changeSignature, "page %d: a signature widget is added", n)
				}
				continue
			}
		}
		c.add(changeAnnotation, "page %d: a /%s annotation is added", n, st)
	}
	for _, o := range oa {
		if !now[key(o)] {
			c.add(changeAnnotation, "page %d: an annotation is removed", n)
		}
	}
}

// fieldChange judges a change to an existing form field or widget.
func (c *differ) fieldChange(f *field, oldObj, newObj pdf.Object, widget bool) {
	od, _ := oldObj.(*pdf.Dict)
	nd, _ := newObj.(*pdf.Dict)
	if od == nil || nd == nil {
		c.add(changeForbidden, "form field %q is replaced by a non-dictionary", f.Name)
		return
	}
	sig := f.IsSignature()
	signed := sig && f.Signed()
	for _, k := range c.keyDiff(od, nd) {
		switch {
		case signed:
			c.add(changeForbidden, "the signed field %q is modified (/%s)", f.Name, k)
		case sig && !widget && k == "V" && !od.Has("V"):
			if c.isDocTimestamp(nd.Get("V")) {
				c.addField(f.Name, changeLTA, "the empty signature field %q receives a document timestamp", f.Name)
			} else {
				c.addField(f.Name, changeSignature, "the empty signature field %q is signed", f.Name)
			}
		case sig && (k == "AP" || k == "AS"):
			c.addField(f.Name, changeSignature, "the appearance of signature field %q is set", f.Name)
		case !sig && (k == "V" || k == "I" || k == "AS" || k == "AP" || (k == "MK" && widget)):
			c.addField(f.Name, changeForm, "form field %q: /%s changed", f.Name, k)
		default:
			c.add(changeForbidden, "form field %q: /%s changed", f.Name, k)
		}
	}
}
