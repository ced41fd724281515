package pdf

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
)

// TestHybridTableWins: in a hybrid-reference section the table's entries
// take precedence over the /XRefStm stream's (ISO 32000-1 7.5.8.4), which
// take precedence over /Prev; what the table does not list comes from the
// stream.
func TestHybridTableWins(t *testing.T) {
	doc := samplepdf.Assemble([]string{
		"<< /Type /Catalog /Pages 2 0 R /Lang (old) >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}, "")
	old1 := int64(bytes.Index(doc, []byte("1 0 obj")))
	// Update: new catalog (1) listed in the table; a new object 4 only in
	// the stream; the stream also lists object 1 at the old body.
	var buf bytes.Buffer
	buf.Write(doc)
	n1 := buf.Len()
	buf.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Lang (new) >>\nendobj\n")
	n4 := buf.Len()
	buf.WriteString("4 0 obj\n(only in the stream)\nendobj\n")
	x := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n",
		n1, bytes.LastIndex(doc[:len(doc)-20], []byte("xref")), x)
	hy, err := samplepdf.Hybridize(buf.Bytes(), 5, []samplepdf.XrefEntry{{Num: 1, Type: 1, Offset: old1}, {Num: 4, Type: 1, Offset: int64(n4)}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(hy), int64(len(hy)), &Options{NoRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	if revs := r.Revisions(); len(revs) != 2 || revs[1].Kind != XrefHybrid {
		t.Fatalf("revisions: %+v", revs)
	}
	cat, err := r.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := cat.Get("Lang").(String); string(s.Value) != "new" {
		t.Errorf("catalog /Lang %v: the /XRefStm entry won over the table's", cat.Get("Lang"))
	}
	if e, _ := r.Lookup(1); e.Offset != int64(n1) {
		t.Errorf("Lookup(1) = %+v, want the table's offset %d", e, n1)
	}
	if o, err := r.Object(Ref{Num: 4}); err != nil || o == (Null{}) {
		t.Errorf("object 4 (only in the stream): %v %v", o, err)
	}
	es := r.Revisions()[1].Entries()
	for _, e := range es {
		if e.Num == 1 && e.Offset != int64(n1) {
			t.Errorf("revision entries: object 1 at %d, want %d", e.Offset, n1)
		}
	}
}
