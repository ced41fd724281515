package pades

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/semnat/semnat/pades/pdf"
)

// Signature dictionaries that the form fields do not reach.
//
// The verifier enumerates signatures through /AcroForm /Fields only (never
// by scanning), so a signature dictionary that no field in that tree holds
// as its /V is not verified. Such a dictionary is reported:
//
//   - always as a document warning: it is not verified and never counts as
//     a signature (a document with only such dictionaries has
//     NO_SIGNATURE_FOUND);
//   - it does not change the indication of an otherwise valid document
//     (left-over dictionaries of abandoned signing attempts are common),
//     unless it is a hidden signature: the /V of a signature widget on a
//     page that /AcroForm /Fields does not list. Viewers that list
//     signatures from page annotations may show that one as a signature,
//     which semnat has not verified, so the document is then INDETERMINATE
//     (SIG_CONSTRAINTS_FAILURE).
//
// Finding them costs no extra pass in the usual case: the bytes that are
// hashed for the signatures are searched for "/ByteRange" as they stream
// by, and only the bytes no signature covers are read again. A dictionary
// inside an object stream is not seen (it could not be a valid PAdES
// signature either: its /Contents cannot be a /ByteRange gap).

var byteRangeKey = []byte("/ByteRange")

// sigScan records where "/ByteRange" occurs in the parts of the file
// already searched.
type sigScan struct {
	hits []int64
	done []span // searched intervals
	// more: hits beyond maxScanHits were dropped.
	more bool
}

// maxScanHits bounds the "/ByteRange" occurrences examined (a hostile file
// can hold millions).
const maxScanHits = 4096

func (sc *sigScan) hit(off int64) {
	if len(sc.hits) >= maxScanHits {
		sc.more = true
		return
	}
	sc.hits = append(sc.hits, off)
}

type span struct{ from, to int64 }

// covered reports whether [from, to) is inside one searched interval.
func (sc *sigScan) covered(from, to int64) bool {
	for _, s := range sc.done {
		if s.from <= from && to <= s.to {
			return true
		}
	}
	return false
}

// scanWriter searches what goes through it for "/ByteRange".
type scanWriter struct {
	w    io.Writer
	sc   *sigScan
	off  int64 // file offset of the next byte
	tail []byte
}

func (s *scanWriter) Write(p []byte) (int, error) {
	k := len(byteRangeKey) - 1
	// Across the previous chunk's end.
	if len(s.tail) > 0 {
		j := append(s.tail, p[:min(len(p), k)]...)
		if i := bytes.Index(j, byteRangeKey); i >= 0 {
			s.sc.hit(s.off - int64(len(s.tail)) + int64(i))
		}
	}
	for base := 0; ; {
		i := bytes.Index(p[base:], byteRangeKey)
		if i < 0 {
			break
		}
		s.sc.hit(s.off + int64(base+i))
		base += i + 1
	}
	s.tail = append(s.tail[:0], p[max(0, len(p)-k):]...)
	s.off += int64(len(p))
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

// unreached reports the signature dictionaries that the fields do not
// reach; it returns the reason for an INDETERMINATE document when one of
// them is a hidden signature ("" otherwise).
func (v *verifier) unreached() (string, error) {
	// Search what the signatures did not cover: their checked gaps are
	// hex digits only and need no search.
	skip := append([]span(nil), v.scan.done...)
	for _, s := range v.sigs {
		if s.sd != nil && s.rev >= 0 {
			skip = append(skip, span{s.sd.ByteRange[1], s.sd.ByteRange[2]})
		}
	}
	sort.Slice(skip, func(i, j int) bool { return skip[i].from < skip[j].from })
	var pos int64
	for _, s := range append(skip, span{v.size, v.size}) {
		if s.from > pos {
			if err := copyRange(v.ctx, &scanWriter{sc: &v.scan, off: pos}, v.in, pos, s.from-pos); err != nil {
				return "", err
			}
		}
		pos = max(pos, s.to)
	}
	if len(v.scan.hits) == 0 {
		return "", nil
	}
	sort.Slice(v.scan.hits, func(i, j int) bool { return v.scan.hits[i] < v.scan.hits[j] })
	reached := map[pdf.Ref]bool{}
	for _, s := range v.sigs {
		if !s.ref.IsZero() {
			reached[s.ref] = true
		}
	}
	known := v.reachedSpans()
	var idx []objAt // built on first need
	tried := map[int64]bool{}
	found := map[pdf.Ref]*unreachedSig{}
	var order []pdf.Ref
	for _, h := range v.scan.hits {
		if inSpans(known, h) {
			continue
		}
		if idx == nil {
			idx = v.objectIndex()
		}
		i := sort.Search(len(idx), func(i int) bool { return idx[i].off > h }) - 1
		if i < 0 || tried[idx[i].off] {
			continue
		}
		tried[idx[i].off] = true
		ref, obj, err := v.r.ObjectAt(idx[i].off)
		if err != nil || reached[ref] || found[ref] != nil {
			continue
		}
		d, ok := obj.(*pdf.Dict)
		if !ok || !d.Has("ByteRange") || !d.Has("Contents") {
			continue // e.g. the text of a content stream
		}
		u := &unreachedSig{ref: ref, off: idx[i].off}
		u.subFilter, _ = d.Name("SubFilter")
		u.byteRange, _ = d.Get("ByteRange").(pdf.Array)
		found[ref] = u
		order = append(order, ref)
	}
	if v.scan.more {
		v.report.Warnings = append(v.report.Warnings, fmt.Sprintf("the file holds more than %d occurrences of /ByteRange; only the first ones were examined for signature dictionaries that no form field reaches", maxScanHits))
	}
	if len(order) == 0 {
		return "", nil
	}
	hidden := v.hiddenWidgets(found)
	verdict := ""
	for _, ref := range order {
		u := found[ref]
		msg := fmt.Sprintf("the signature dictionary %v (offset %d, /SubFilter /%s, /ByteRange %v) is not the value of any signature field in /AcroForm /Fields: it is not verified and does not count as a signature", ref, u.off, u.subFilter, u.byteRange)
		if page, ok := hidden[ref]; ok {
			msg = fmt.Sprintf("hidden signature: the signature dictionary %v (offset %d) is the value of a signature widget on page %d that /AcroForm /Fields does not list; viewers that list signatures from page annotations may show it, but it is not verified", ref, u.off, page)
			if verdict == "" {
				verdict = msg
			}
		}
		v.report.Warnings = append(v.report.Warnings, msg)
	}
	return verdict, nil
}

type unreachedSig struct {
	ref       pdf.Ref
	off       int64
	subFilter pdf.Name
	byteRange pdf.Array
}

type objAt struct {
	off int64
	ref pdf.Ref
}

// reachedSpans returns the byte spans of the dictionaries of the
// signatures the fields reach (in the revision each signs and in the
// current one): from the object's start to its "endobj".
func (v *verifier) reachedSpans() []span {
	const window = 2*maxContents + maxGapScan + 4096
	var out []span
	for _, s := range v.sigs {
		if s.ref.IsZero() {
			continue
		}
		offs := []int64{s.offset}
		if e, ok := v.r.Lookup(s.ref.Num); ok && e.Type == pdf.EntryInUse && e.Offset != s.offset {
			offs = append(offs, e.Offset)
		}
		for _, o := range offs {
			if o <= 0 {
				continue
			}
			if end := v.findForward([]byte("endobj"), o, min(o+window, v.size)); end > o {
				out = append(out, span{o, end})
			}
		}
	}
	return out
}

func inSpans(spans []span, h int64) bool {
	for _, s := range spans {
		if s.from <= h && h < s.to {
			return true
		}
	}
	return false
}

// findForward returns the offset of the first pat in in[from, limit), or -1.
func (v *verifier) findForward(pat []byte, from, limit int64) int64 {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := (*bp)[:min(len(*bp), 64<<10)]
	for off := from; off < limit; {
		n := min(int64(len(buf)), limit-off)
		m, _ := v.in.ReadAt(buf[:n], off)
		if i := bytes.Index(buf[:m], pat); i >= 0 {
			return off + int64(i)
		}
		if int64(m) < n || off+n >= limit {
			return -1
		}
		off += n - int64(len(pat)) + 1
	}
	return -1
}

// objectIndex lists the offsets of the objects of every revision, sorted.
func (v *verifier) objectIndex() []objAt {
	seen := map[int64]bool{}
	var idx []objAt
	for k := range v.r.Revisions() {
		view, err := v.viewAt(k)
		if err != nil {
			continue
		}
		for num := uint32(1); num <= view.MaxObjectNumber(); num++ {
			e, ok := view.Lookup(num)
			if !ok || e.Type != pdf.EntryInUse || seen[e.Offset] {
				continue
			}
			seen[e.Offset] = true
			idx = append(idx, objAt{e.Offset, pdf.Ref{Num: num, Gen: e.Gen}})
		}
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i].off < idx[j].off })
	return idx
}

// maxHiddenPages bounds the pages searched for hidden signature widgets.
const maxHiddenPages = 10000

// hiddenWidgets finds, among the unreached dictionaries, those that are
// the /V of a signature widget annotation on a page (or of its parent
// field): page number (1-based) by dictionary.
func (v *verifier) hiddenWidgets(found map[pdf.Ref]*unreachedSig) map[pdf.Ref]int {
	out := map[pdf.Ref]int{}
	n, err := v.r.NumPages()
	if err != nil {
		return out
	}
	for i := 0; i < min(n, maxHiddenPages); i++ {
		p, err := v.r.Page(i)
		if err != nil {
			continue
		}
		annots, _ := mustResolve(v.r, p.Dict.Get("Annots")).(pdf.Array)
		for _, a := range annots {
			d, _ := mustResolve(v.r, a).(*pdf.Dict)
			for depth := 0; d != nil && depth < 8; depth++ {
				if ref, ok := d.Get("V").(pdf.Ref); ok && found[ref] != nil {
					if _, dup := out[ref]; !dup {
						out[ref] = i + 1
					}
				}
				d, _ = mustResolve(v.r, d.Get("Parent")).(*pdf.Dict)
			}
		}
	}
	return out
}
