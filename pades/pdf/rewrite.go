package pdf

import (
	"bufio"
	"crypto/md5"
	"fmt"
	"io"
	"strconv"
)

// Rewrite writes the document r reads as a new, complete PDF with one
// cross-reference table: every object the (possibly reconstructed)
// cross-reference structure defines, with the same numbers, members of
// object streams written as plain objects, and the trailer's /Root, /Info,
// /ID and /Encrypt. An encrypted file stays encrypted with the same key
// (r must be decrypting it). It is how a damaged file is saved again
// before signing; it returns the size written.
func (r *Reader) Rewrite(w io.Writer) (int64, error) {
	if r.Encrypted() != nil && r.crypt == nil {
		return 0, fmt.Errorf("pdf: rewriting: %w", r.encryptedErr())
	}
	if _, err := r.Catalog(); err != nil {
		return 0, fmt.Errorf("pdf: rewriting: the catalog is not readable: %w", err)
	}
	cw := &countWriter{w: bufio.NewWriterSize(w, 64<<10), h: md5.New()}
	ver := r.Version()
	if ver == "" {
		ver = "1.7"
	}
	cw.str("%PDF-" + ver + "\n%\xe2\xe3\xcf\xd3\n")
	u := &Update{r: r}
	res := &Result{Objects: map[Ref]int64{}}
	var e encoder
	maxNum := r.MaxObjectNumber()
	written := []Ref{}
	for num := uint32(1); num <= maxNum && num != 0; num++ {
		ent, ok := r.Lookup(num)
		if !ok || ent.Type == EntryFree {
			continue
		}
		ref := Ref{Num: num, Gen: ent.Gen}
		o, err := r.Object(ref)
		if err != nil {
			return 0, fmt.Errorf("pdf: rewriting object %d: %w", num, err)
		}
		if _, null := o.(Null); null {
			continue
		}
		if s, ok := o.(*Stream); ok {
			switch t, _ := s.Dict.Name("Type"); t {
			case "XRef", "ObjStm":
				continue // replaced by the new table and plain objects
			}
		}
		if d, ok := o.(*Dict); ok && d.Has("Linearized") {
			continue // no longer true of the rewritten file
		}
		res.Objects[ref] = cw.pos
		if err := u.writeObject(cw, &e, pendingObj{ref, o}, res); err != nil {
			return 0, fmt.Errorf("pdf: rewriting object %v: %w", ref, err)
		}
		written = append(written, ref)
	}
	xrefOff := cw.pos
	cw.str("xref\n0 1\n0000000000 65535 f \n")
	for i := 0; i < len(written); {
		j := i + 1
		for j < len(written) && written[j].Num == written[j-1].Num+1 {
			j++
		}
		cw.str(strconv.FormatUint(uint64(written[i].Num), 10) + " " + strconv.Itoa(j-i) + "\n")
		for _, ref := range written[i:j] {
			cw.str(fmt.Sprintf("%010d %05d n \n", res.Objects[ref], ref.Gen))
		}
		i = j
	}
	old := r.Trailer()
	size := int64(1)
	if len(written) > 0 {
		size = int64(written[len(written)-1].Num) + 1
	}
	t := NewDict(DictEntry{"Size", Integer(size)})
	for _, k := range []Name{"Root", "Info", "Encrypt"} {
		if v := old.Get(k); v != nil {
			t.Set(k, v)
		}
	}
	if id := r.trailerID(); id != nil {
		t.Set("ID", id)
	} else {
		sum := cw.h.Sum(nil)
		t.Set("ID", Array{String{Value: sum, Hex: true}, String{Value: sum, Hex: true}})
	}
	b, err := Marshal(t)
	if err != nil {
		return 0, err
	}
	cw.str("trailer\n")
	cw.Write(b)
	cw.str("\nstartxref\n" + strconv.FormatInt(xrefOff, 10) + "\n%%EOF\n")
	if cw.err != nil {
		return 0, cw.err
	}
	if err := cw.w.Flush(); err != nil {
		return 0, err
	}
	return cw.pos, nil
}
