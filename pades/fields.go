package pades

import (
	"fmt"

	"github.com/semnat/semnat/pades/pdf"
)

// maxFields bounds the AcroForm walk of a hostile file.
const maxFields = 100000

// field is one terminal form field found by walking /AcroForm /Fields.
type field struct {
	Ref    pdf.Ref // the field dictionary (zero if direct)
	Dict   *pdf.Dict
	Name   string // fully qualified name
	FT     pdf.Name
	Value  pdf.Object // /V, unresolved (a Ref for a signature)
	Parent pdf.Ref
}

// IsSignature tells whether the field is a signature field.
func (f *field) IsSignature() bool { return f.FT == "Sig" }

// Signed tells whether a signature field holds a value.
func (f *field) Signed() bool {
	switch f.Value.(type) {
	case nil, pdf.Null:
		return false
	}
	return true
}

// acroForm is the interactive form of a document.
type acroForm struct {
	Ref    pdf.Ref   // zero when the AcroForm is direct in the catalog (or absent)
	Dict   *pdf.Dict // nil when absent
	Fields []*field
}

func textOf(o pdf.Object) string {
	if s, ok := o.(pdf.String); ok {
		return decodeTextString(s.Value)
	}
	return ""
}

// readAcroForm walks the field tree. Field names are fully qualified
// (parent.child); /FT is inherited.
func readAcroForm(r *pdf.Reader, cat *pdf.Dict) (*acroForm, error) {
	af := &acroForm{}
	raw := cat.Get("AcroForm")
	if ref, ok := raw.(pdf.Ref); ok {
		af.Ref = ref
	}
	d, err := r.ResolveDict(raw)
	if err != nil || d == nil {
		return af, nil // no form, or not a dictionary: treated as absent
	}
	af.Dict = d
	fields, err := r.Resolve(d.Get("Fields"))
	if err != nil {
		return nil, fmt.Errorf("pades: reading /AcroForm /Fields: %w", err)
	}
	arr, _ := fields.(pdf.Array)
	seen := map[pdf.Ref]bool{}
	var walk func(o pdf.Object, parentName string, ft pdf.Name, parent pdf.Ref, depth int) error
	walk = func(o pdf.Object, parentName string, ft pdf.Name, parent pdf.Ref, depth int) error {
		if depth > 32 || len(af.Fields) > maxFields {
			return fmt.Errorf("pades: form field tree too deep or too large")
		}
		ref, isRef := o.(pdf.Ref)
		if isRef {
			if seen[ref] {
				return nil // loop or shared kid
			}
			seen[ref] = true
		}
		fd, err := r.ResolveDict(o)
		if err != nil || fd == nil {
			return nil
		}
		name := parentName
		if t := textOf(mustResolve(r, fd.Get("T"))); t != "" {
			if name != "" {
				name += "."
			}
			name += t
		}
		if n, ok := fd.Name("FT"); ok {
			ft = n
		}
		kids, _ := mustResolve(r, fd.Get("Kids")).(pdf.Array)
		// Kids that have a /T are fields; kids without are widgets.
		hasFieldKids := false
		for _, k := range kids {
			kd, err := r.ResolveDict(k)
			if err == nil && kd != nil && kd.Has("T") {
				hasFieldKids = true
				break
			}
		}
		if hasFieldKids {
			var me pdf.Ref
			if isRef {
				me = ref
			}
			for _, k := range kids {
				if err := walk(k, name, ft, me, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		f := &field{Dict: fd, Name: name, FT: ft, Value: fd.Get("V"), Parent: parent}
		if isRef {
			f.Ref = ref
		}
		af.Fields = append(af.Fields, f)
		return nil
	}
	for _, o := range arr {
		if err := walk(o, "", "", pdf.Ref{}, 0); err != nil {
			return nil, err
		}
	}
	return af, nil
}

func mustResolve(r *pdf.Reader, o pdf.Object) pdf.Object {
	v, err := r.Resolve(o)
	if err != nil {
		return pdf.Null{}
	}
	return v
}

// find returns the field with the fully qualified name, or nil.
func (af *acroForm) find(name string) *field {
	for _, f := range af.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// signatureCount counts signature fields holding a value.
func (af *acroForm) signatureCount() int {
	n := 0
	for _, f := range af.Fields {
		if f.IsSignature() && f.Signed() {
			n++
		}
	}
	return n
}

// docMDP returns the DocMDP permission (1, 2, 3) of a certified document,
// or 0 when it is not certified.
func docMDP(r *pdf.Reader, cat *pdf.Dict) int {
	perms, err := r.ResolveDict(cat.Get("Perms"))
	if err != nil || perms == nil {
		return 0
	}
	sig, err := r.ResolveDict(perms.Get("DocMDP"))
	if err != nil || sig == nil {
		return 0
	}
	refs, _ := mustResolve(r, sig.Get("Reference")).(pdf.Array)
	for _, o := range refs {
		sr, err := r.ResolveDict(o)
		if err != nil || sr == nil {
			continue
		}
		if m, _ := sr.Name("TransformMethod"); m != "DocMDP" {
			continue
		}
		tp, _ := r.ResolveDict(sr.Get("TransformParams"))
		if tp == nil {
			return 2
		}
		if p, ok := pdf.Int(mustResolve(r, tp.Get("P"))); ok && p >= 1 && p <= 3 {
			return int(p)
		}
		return 2 // default per ISO 32000-1 12.8.2.2.2
	}
	return 2 // a DocMDP signature without a readable SigRef: assume the default
}
