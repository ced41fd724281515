package pdf

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestZZDebug(t *testing.T) {
	for _, f := range []string{"broken-invalid-xref-entry.pdf", "broken-trailer-prev-not-int.pdf", "broken-xref-not-found.pdf", "hybrid-xref-minimal.pdf", "mixed-xref-stream-then-table-update.pdf", "linearized-minimal-pdf13.pdf", "signed-pades-b-lta-hybrid.pdf"} {
		r := openFile(t, filepath.Join(corpusDir, f), nil)
		fmt.Println("==", f, r.Repaired(), r.RepairReasons(), r.Defects())
		for _, rv := range r.Revisions() {
			fmt.Printf("  rev %d kind %v off %d secs %v startxref %d end %d lin %v entries %d\n", rv.Index, rv.Kind, rv.XrefOffset, rv.Sections, rv.StartXref, rv.End, rv.Linearized, len(rv.Entries()))
		}
		p, err := r.Page(0)
		if err == nil {
			fmt.Printf("  page0 %v %+v\n", p.Ref, p.MediaBox)
		}
		fmt.Println("  trailer", shortString(r.Trailer()), r.Size())
	}
	r := openFile(t, filepath.Join(corpusDir, "hybrid-xref-minimal.pdf"), nil)
	o, _ := r.Object(Ref{Num: 6})
	v, _ := r.AsOf(0)
	o0, _ := v.Object(Ref{Num: 6})
	fmt.Printf("obj6 latest %#v rev0 %#v\n", o, o0)
}

func TestZZWrite(t *testing.T) {
	for _, f := range []string{"hybrid-xref-minimal.pdf", "minimal-xrefstream-pdf17.pdf"} {
		up := writeUpdate(t, filepath.Join(corpusDir, f), false)
		data, _ := os.ReadFile(up.path)
		fmt.Printf("== %s\n%s\n", f, data[len(up.orig):])
	}
}
