package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
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
	changeStructure  = "structure"  // rewritten bookkeeping that shows nothing new (a page-tree node with the same pages)
	changeForbidden  = "forbidden"  // anything else
)

// ChangePolicy is how Verify judges what revisions after a signature
// changed; Report.Policy carries it.
const ChangePolicy = "Changes after a signature (ISO 32000-1 12.8.2.2, ETSI EN 319 142-1 5.4): " +
	"after a certification (DocMDP), P=1 allows only DSS and document timestamps, P=2 also signing (a new signature field must be signed in the revision that adds it, and a visible one draws inside its rectangle and is listed as a warning with its page and rectangle), form filling (a field's value, with its appearance rewritten in the same revision) and metadata, P=3 also annotations; anything else is TOTAL-FAILED/FORMAT_FAILURE. " +
	"After an approval signature only (no certification), metadata, DSS, document timestamps, signing and form filling are allowed; a change that shows nothing new (a page-tree node rewritten with the same pages, form resources) is a warning; " +
	"a change that alters what the pages show (new or changed content, annotations that draw, appearances changed without their field's value, pages added or removed) makes the signature INDETERMINATE/SIG_CONSTRAINTS_FAILURE with the reason: the signed bytes are intact, but the document shown is no longer the one signed."

// revisionDiff is what one revision changed compared with the previous one.
type revisionDiff struct {
	changes []Change
	// warnings concern every signature before the revision (visible
	// signatures added after a certification).
	warnings []string
	err      error
}

// allowedKind says whether a change kind is allowed after a signature of
// this document: DocMDP P=1 allows only LTA updates, P=2 adds signing,
// form filling, metadata and page-tree bookkeeping, P=3 adds annotations.
// Uncertified documents follow the approval policy (approvalVerdict).
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
	// After an approval signature only, a later revision never makes the
	// signature TOTAL-FAILED: what alters the pages is INDETERMINATE.
	approval := v.docMDP == 0
	refuse := func(format string, args ...any) {
		if approval {
			s.verdict(Indeterminate, SigConstraintsFailure, format, args...)
			if s.rep.Checks.Modifications == CheckPassed {
				s.rep.Checks.Modifications = CheckIndeterminate
			}
			return
		}
		s.verdict(TotalFailed, FormatFailure, format, args...)
		s.rep.Checks.Modifications = CheckFailed
	}
	for j := s.rev + 1; j < len(revs); j++ {
		rd := v.diff(j)
		if rd.err != nil {
			s.verdict(Indeterminate, SignedDataNotFound, "revision %d cannot be compared with the previous one: %v", j+1, rd.err)
			s.rep.Checks.Modifications = CheckIndeterminate
			continue
		}
		for _, w := range rd.warnings {
			s.warn("revision %d after the signature: %s", j+1, w)
		}
		for _, c := range rd.changes {
			c.Allowed = v.allowedKind(c.Kind)
			if approval && (c.Kind == changeStructure || (c.Kind == changeAnnotation || c.Kind == changeForbidden) && c.quiet) {
				// Shows nothing new: listed, with a warning.
				c.Allowed = true
				if c.Kind == changeForbidden {
					c.Kind = changeStructure
				}
				s.warn("revision %d after the signature: %s (shows nothing new)", j+1, c.What)
			}
			if approval && c.Kind == changeAnnotation && !c.quiet {
				c.Allowed = false
			}
			if c.Allowed && c.Field != "" && c.Kind != changeLTA && locksField(locks, c.Field) {
				c.Allowed = false
				s.rep.Changes = append(s.rep.Changes, c)
				refuse("revision %d after the signature: %s (the field is locked by this signature: FieldMDP)", j+1, c.What)
				continue
			}
			s.rep.Changes = append(s.rep.Changes, c)
			if !c.Allowed {
				why := "not an allowed change"
				switch {
				case approval:
					why = "it alters what the document shows after an approval signature"
				case c.Kind != changeForbidden:
					why = fmt.Sprintf("%s changes are not allowed by the certification (DocMDP P=%d)", c.Kind, v.docMDP)
				}
				refuse("revision %d after the signature: %s (%s)", j+1, c.What, why)
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
	nodes     map[pdf.Ref]bool   // intermediate page-tree nodes (/Pages)
	appear    map[pdf.Ref]*field // appearance streams of fields' widgets
	pageList  []*pdf.Page        // the pages, in order
}

const maxDiffPages = 100000

func (v *verifier) roles(prev *pdf.Reader) (*prevRoles, error) {
	ro := &prevRoles{pages: map[pdf.Ref]int{}, annots: map[pdf.Ref]int{}, fields: map[pdf.Ref]*field{},
		widgets: map[pdf.Ref]*field{}, dss: map[pdf.Ref]bool{}, metadata: map[pdf.Ref]bool{},
		nodes: map[pdf.Ref]bool{}, appear: map[pdf.Ref]*field{}}
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
		ro.appearances(prev, f.Dict, f)
		kids, _ := mustResolve(prev, f.Dict.Get("Kids")).(pdf.Array)
		for _, k := range kids {
			if ref, ok := k.(pdf.Ref); ok {
				ro.widgets[ref] = f
			}
			if kd, _ := prev.ResolveDict(k); kd != nil {
				ro.appearances(prev, kd, f)
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
		ro.pageList = append(ro.pageList, p)
		// The page's ancestors, up to the root node.
		for node, k := p.Parent, 0; !node.IsZero() && !ro.nodes[node] && k < 256; k++ {
			ro.nodes[node] = true
			nd, _ := prev.ResolveDict(node)
			if nd == nil {
				break
			}
			node, _ = nd.Get("Parent").(pdf.Ref)
		}
	}
	return ro, nil
}

// appearances records the appearance streams of a widget (/AP /N /D /R,
// each a stream or a dictionary of state streams) as belonging to f.
func (ro *prevRoles) appearances(r *pdf.Reader, wd *pdf.Dict, f *field) {
	ap, _ := r.ResolveDict(wd.Get("AP"))
	if ap == nil {
		return
	}
	for _, k := range []pdf.Name{"N", "D", "R"} {
		o := ap.Get(k)
		if ref, ok := o.(pdf.Ref); ok {
			if _, isStream := mustResolve(r, ref).(*pdf.Stream); isStream {
				ro.appear[ref] = f
				continue
			}
		}
		states, _ := mustResolve(r, o).(*pdf.Dict)
		if states == nil {
			continue
		}
		for _, e := range states.Entries() {
			if ref, ok := e.Value.(pdf.Ref); ok {
				ro.appear[ref] = f
			}
		}
	}
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
	c := &differ{v: v, prev: prev, cur: cur, ro: ro, add: add, addField: addField, rev: j, rd: rd}
	c.trailer(prev.Trailer(), cur.Trailer())
	var revived []pdf.Ref
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
				msg := fmt.Sprintf("revision %d: %s", j+1, strings.TrimPrefix(err.Error(), pdf.ErrDamaged.Error()+": "))
				add(changeForbidden, "%s; readers rescan such a file, each its own way, and may show different documents", msg)
				v.damage = append(v.damage, msg)
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
			revived = append(revived, pdf.Ref{Num: e.Num, Gen: e.Gen})
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
		for _, ref := range refd {
			add(changeForbidden, "object %d is defined, but the previous revision already referenced it (there it was free or missing and read as null): signed objects now show content that was not signed", ref.Num)
		}
	}
	return nil
}

// maxWalkObjects bounds the objects referencedIn visits.
const maxWalkObjects = 4 << 20

// referencedIn returns the references among refs (number and generation)
// that an object reachable from r's trailer (/Root, /Info) holds. Streams'
// data are not read: only dictionaries and arrays hold references.
func referencedIn(v *verifier, r *pdf.Reader, refs []pdf.Ref) ([]pdf.Ref, error) {
	want := make(map[pdf.Ref]bool, len(refs))
	for _, ref := range refs {
		want[ref] = true
	}
	found := map[pdf.Ref]bool{}
	seen := map[uint32]bool{}
	var stack []pdf.Object
	tr := r.Trailer()
	stack = append(stack, tr.Get("Root"), tr.Get("Info"))
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := o.(type) {
		case pdf.Ref:
			if want[x] {
				found[x] = true
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
	var out []pdf.Ref
	for _, ref := range refs {
		if found[ref] {
			out = append(out, ref)
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
	rev       int // index of the revision being judged
	rd        *revisionDiff
	// pagesDone: the page lists were compared (a page-tree node changed).
	pagesDone bool
	// values memoises whether a field's value changed in this revision.
	values map[*field]bool
}

// quiet records a change that shows nothing new on the pages.
func (c *differ) quiet(kind, format string, args ...any) {
	c.add(kind, format, args...)
	c.rd.changes[len(c.rd.changes)-1].quiet = true
}

// valueChanged says whether this revision changes the value (/V) of f.
func (c *differ) valueChanged(f *field) bool {
	if ch, ok := c.values[f]; ok {
		return ch
	}
	ch := true
	if !f.Ref.IsZero() {
		if nd, _ := c.cur.ResolveDict(f.Ref); nd != nil {
			eq, err := c.equal(mustResolve(c.prev, f.Dict.Get("V")), mustResolve(c.cur, nd.Get("V")), 0)
			ch = err != nil || !eq
		}
	}
	if c.values == nil {
		c.values = map[*field]bool{}
	}
	c.values[f] = ch
	return ch
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

// sameRaw compares the raw data of two streams (decrypted, in an
// encrypted file).
func (c *differ) sameRaw(x, y *pdf.Stream) (bool, error) {
	if x.Length > 64<<20 {
		return false, nil
	}
	rx, err := c.prev.EncodedStreamReader(x)
	if err != nil {
		return false, nil
	}
	ry, err := c.cur.EncodedStreamReader(y)
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
	case ro.nodes[ref]:
		c.pageTreeNode(ref)
	case ro.appear[ref] != nil:
		c.appearanceStream(ro.appear[ref], ref)
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
		case "DR", "DA":
			// Defaults for appearances drawn later: nothing shown changes.
			c.quiet(changeForbidden, "/AcroForm /%s changed", k)
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
	if c.visible(fd) && c.v.docMDP > 0 {
		if why := c.sneaky(fd); why != "" {
			c.add(changeForbidden, "a visible signature field %q is added after the certification %s (sneaky signature)", name, why)
			return
		}
		c.add(changeSignature, "a visible signature field %q is added and signed", name)
		return
	}
	c.add(changeSignature, "a signature field %q is added", name)
}

// sneaky says why a visible signature field or widget added after a
// certification is refused ("" if it is not): it must be signed in the
// revision that adds it, and its appearance must draw inside its own
// rectangle. Policy.AllowVisibleSignatureAfterCertification lifts both.
func (c *differ) sneaky(wd *pdf.Dict) string {
	if c.v.opts.Policy.AllowVisibleSignatureAfterCertification {
		return ""
	}
	fd := wd
	if !wd.Has("V") {
		if p, _ := c.cur.ResolveDict(wd.Get("Parent")); p != nil {
			fd = p
		}
	}
	if !c.signedHere(fd.Get("V")) {
		return "without being signed in that revision"
	}
	if why := c.drawsOutside(wd); why != "" {
		return "and its appearance " + why
	}
	return ""
}

// signedHere says whether v is a signature dictionary whose /ByteRange
// ends with the revision being judged.
func (c *differ) signedHere(v pdf.Object) bool {
	d, _ := c.cur.ResolveDict(v)
	if d == nil {
		return false
	}
	br, _ := d.Get("ByteRange").(pdf.Array)
	if len(br) != 4 {
		return false
	}
	b, ok1 := br[2].(pdf.Integer)
	n, ok2 := br[3].(pdf.Integer)
	end := c.v.r.Revisions()[c.rev].End
	return ok1 && ok2 && end >= 0 && end-int64(b+n) >= 0 && end-int64(b+n) <= 2
}

// drawsOutside checks a widget's normal appearance against its rectangle:
// the appearance's /BBox mapped through its /Matrix must fit the /Rect
// (ISO 32000-1 12.5.5; 1 point of tolerance).
func (c *differ) drawsOutside(wd *pdf.Dict) string {
	rect, ok := c.cur.Rect(wd.Get("Rect"))
	if !ok {
		return ""
	}
	ap, _ := c.cur.ResolveDict(wd.Get("AP"))
	if ap == nil {
		return ""
	}
	var streams []*pdf.Stream
	switch n := mustResolve(c.cur, ap.Get("N")).(type) {
	case *pdf.Stream:
		streams = append(streams, n)
	case *pdf.Dict:
		for i, e := range n.Entries() {
			if i >= 16 {
				break
			}
			if st, ok := mustResolve(c.cur, e.Value).(*pdf.Stream); ok {
				streams = append(streams, st)
			}
		}
	}
	for _, st := range streams {
		bb, ok := c.cur.Rect(st.Dict.Get("BBox"))
		if !ok {
			return "has no /BBox"
		}
		m := [6]float64{1, 0, 0, 1, 0, 0}
		if ma, ok := mustResolve(c.cur, st.Dict.Get("Matrix")).(pdf.Array); ok && len(ma) == 6 {
			for i, x := range ma {
				m[i], _ = pdf.Number(mustResolve(c.cur, x))
			}
		}
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, p := range [][2]float64{{bb.LLX, bb.LLY}, {bb.URX, bb.LLY}, {bb.LLX, bb.URY}, {bb.URX, bb.URY}} {
			x := m[0]*p[0] + m[2]*p[1] + m[4]
			y := m[1]*p[0] + m[3]*p[1] + m[5]
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
		}
		if w, h := maxX-minX, maxY-minY; w > rect.URX-rect.LLX+1 || h > rect.URY-rect.LLY+1 {
			return fmt.Sprintf("draws outside its rectangle (appearance %.0fx%.0f, rectangle %.0fx%.0f)", w, h, rect.URX-rect.LLX, rect.URY-rect.LLY)
		}
	}
	return ""
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
				case c.visible(ad) && c.v.docMDP > 0:
					rect, _ := c.cur.Rect(ad.Get("Rect"))
					at := fmt.Sprintf("page %d, rectangle [%g %g %g %g]", n, rect.LLX, rect.LLY, rect.URX, rect.URY)
					c.rd.warnings = append(c.rd.warnings, fmt.Sprintf("a visible signature widget is added after the certification on %s: check that it hides nothing", at))
					if why := c.sneaky(ad); why != "" {
						c.add(changeForbidden, "%s: a visible signature widget is added after the certification %s (sneaky signature)", at, why)
						continue
					}
					c.add(changeSignature, "%s: a visible signature widget is added and signed", at)
				default:
					c.add(changeSignature, "page %d: a signature widget is added", n)
				}
				continue
			}
		}
		if c.draws(ad) {
			c.add(changeAnnotation, "page %d: a /%s annotation is added", n, st)
		} else {
			c.quiet(changeAnnotation, "page %d: a /%s annotation that draws nothing is added", n, st)
		}
	}
	for _, o := range oa {
		if !now[key(o)] {
			c.add(changeAnnotation, "page %d: an annotation is removed", n)
		}
	}
}

// draws says whether an annotation can show something on the page: not
// hidden or no-view, a rectangle of non-zero area, and not a pop-up or a
// link (which have no appearance of their own unless they say so).
func (c *differ) draws(ad *pdf.Dict) bool {
	if f, ok := pdf.Int(mustResolve(c.cur, ad.Get("F"))); ok && f&(2|32) != 0 {
		return false
	}
	rect, ok := c.cur.Rect(ad.Get("Rect"))
	if !ok || rect.URX-rect.LLX <= 0 || rect.URY-rect.LLY <= 0 {
		return false
	}
	switch st, _ := ad.Name("Subtype"); st {
	case "Popup":
		return false
	case "Link":
		return ad.Has("AP")
	}
	return true
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
		case !sig && (k == "V" || k == "I"):
			c.addField(f.Name, changeForm, "form field %q: /%s changed", f.Name, k)
		case !sig && (k == "AS" || k == "AP" || k == "MK"):
			if !c.valueChanged(f) {
				c.add(changeForbidden, "form field %q: its appearance (/%s) changes while its value stays the same", f.Name, k)
				continue
			}
			c.addField(f.Name, changeForm, "form field %q: /%s changed with its value", f.Name, k)
		default:
			c.add(changeForbidden, "form field %q: /%s changed", f.Name, k)
		}
	}
}

// appearanceStream judges an appearance stream of a field's widget that is
// rewritten in place: form filling when the field's value changes in the
// same revision (viewers regenerate appearances so), signing when the
// signature field is signed in it.
func (c *differ) appearanceStream(f *field, ref pdf.Ref) {
	if f.IsSignature() {
		nd, _ := c.cur.ResolveDict(f.Ref)
		if !f.Signed() && nd != nil && c.signedHere(nd.Get("V")) {
			c.addField(f.Name, changeSignature, "the appearance (stream %d) of signature field %q is drawn as it is signed", ref.Num, f.Name)
			return
		}
		c.add(changeForbidden, "the appearance (stream %d) of signature field %q is overwritten", ref.Num, f.Name)
		return
	}
	if !c.valueChanged(f) {
		c.add(changeForbidden, "the appearance (stream %d) of form field %q is overwritten while its value stays the same", ref.Num, f.Name)
		return
	}
	c.addField(f.Name, changeForm, "form field %q: its appearance (stream %d) is redrawn for the new value", f.Name, ref.Num)
}

// pageTreeNode judges a rewritten /Pages node by comparing the pages the
// two revisions show, in order, once per revision.
func (c *differ) pageTreeNode(ref pdf.Ref) {
	if c.pagesDone {
		return
	}
	c.pagesDone = true
	n, err := c.cur.NumPages()
	if err != nil {
		c.add(changeForbidden, "the page tree (node %d) is rewritten and cannot be read: %v", ref.Num, err)
		return
	}
	old := c.ro.pageList
	if n != len(old) {
		c.add(changeForbidden, "the page tree (node %d) is rewritten: %d pages instead of %d", ref.Num, n, len(old))
		return
	}
	same := true
	for i, op := range old {
		np, err := c.cur.Page(i)
		if err != nil {
			c.add(changeForbidden, "page %d cannot be read after the page tree (node %d) is rewritten: %v", i+1, ref.Num, err)
			return
		}
		if op.Ref != np.Ref {
			c.add(changeForbidden, "page %d is another page object after the page tree (node %d) is rewritten", i+1, ref.Num)
			same = false
			continue
		}
		if op.MediaBox != np.MediaBox || op.CropBox != np.CropBox || op.Rotate != np.Rotate {
			c.add(changeForbidden, "page %d: its inherited /MediaBox, /CropBox or /Rotate changes with the page tree (node %d)", i+1, ref.Num)
			same = false
		}
		if eq, _ := c.equal(resOrNull(op.Resources), resOrNull(np.Resources), 0); !eq {
			c.add(changeForbidden, "page %d: its inherited /Resources change with the page tree (node %d)", i+1, ref.Num)
			same = false
		}
		if op.Ref.IsZero() {
			// A page written directly in /Kids changes with its node.
			if eq, _ := c.equal(op.Dict, np.Dict, 0); !eq {
				c.page(i+1, op.Dict, np.Dict)
			}
		}
	}
	if same {
		c.quiet(changeStructure, "the page tree (node %d) is rewritten with the same pages", ref.Num)
	}
}

func resOrNull(d *pdf.Dict) pdf.Object {
	if d == nil {
		return pdf.Null{}
	}
	return d
}

// trailer judges what a revision's trailer changes like any other change:
// another catalog object (compared key by key with the old one), /Info
// (metadata), /Encrypt, an /ID that keys the decryption of earlier
// objects, and a /Size that shrinks below numbers in use.
func (c *differ) trailer(pt, ct *pdf.Dict) {
	if root := ct.Get("Root"); root != nil && !sameRef(pt.Get("Root"), root) {
		// Shows nothing by itself (a warning after an approval
		// signature); never allowed after a certification. What the new
		// catalog changes is judged key by key.
		c.quiet(changeForbidden, "the trailer's /Root points to another catalog (%v instead of %v)", root, pt.Get("Root"))
		oldCat, err1 := c.prev.Catalog()
		newCat, err2 := c.cur.Catalog()
		if err1 != nil || err2 != nil {
			c.add(changeForbidden, "the new catalog %v cannot be compared with the old one: %v", root, errors.Join(err1, err2))
		} else {
			c.catalog(oldCat, newCat)
		}
	}
	if !sameRef(pt.Get("Encrypt"), ct.Get("Encrypt")) {
		c.add(changeForbidden, "the trailer's /Encrypt changed (earlier objects decrypt differently)")
	}
	if !sameRef(pt.Get("Info"), ct.Get("Info")) {
		c.add(changeMetadata, "the document information dictionary (/Info) changed")
	}
	if eq, _ := c.equal(pt.Get("ID"), ct.Get("ID"), 0); !eq && ct.Get("ID") != nil {
		if ct.Get("Encrypt") != nil || pt.Get("Encrypt") != nil {
			c.add(changeForbidden, "the trailer's /ID changed in an encrypted file (the key of earlier objects derives from it)")
		} else {
			c.add(changeMetadata, "the trailer's /ID changed")
		}
	}
	ps, ok1 := pt.Int("Size")
	cs, ok2 := ct.Int("Size")
	if ok1 && ok2 && cs < ps {
		c.add(changeForbidden, "the trailer's /Size shrinks from %d to %d (objects %d to %d may stop resolving)", ps, cs, cs, ps-1)
	}
}
