package pades

import (
	"bytes"
	"strings"
	"testing"

	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// fillField appends an update that changes the value of the first text
// field of the form: what form filling after a signature looks like.
func fillField(t *testing.T, data []byte) ([]byte, string) {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := r.Catalog()
	af, err := readAcroForm(r, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range af.Fields {
		if f.FT != "Tx" || f.Ref.IsZero() {
			continue
		}
		u := r.NewUpdate()
		nd := f.Dict.Clone()
		nd.Set("V", pdf.String{Value: []byte("filled after signing")})
		if err := u.Set(f.Ref, nd); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := u.Write(&buf); err != nil {
			t.Fatal(err)
		}
		return append(append([]byte(nil), data...), buf.Bytes()...), f.Name
	}
	t.Fatal("no text field in the form")
	return nil, ""
}

// TestVerifyFieldLocks: filling a form field after a signature is allowed
// (uncertified document), unless the signature locked that field
// (FieldMDP): then the approval signature is INDETERMINATE/
// SIG_CONSTRAINTS_FAILURE (ChangePolicy: its own bytes are intact).
func TestVerifyFieldLocks(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "acroform-person-xrefstream.pdf")
	s := entitySigner(pki, "person-p256")
	for _, tc := range []struct {
		name string
		lock *FieldLock
		want Indication
	}{
		{"unlocked", nil, TotalPassed},
		{"lock-all", &FieldLock{Action: "All"}, Indeterminate},
		{"lock-exclude-other", &FieldLock{Action: "Exclude", Fields: []string{"no.such.field"}}, Indeterminate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signed, _, err := signBytes(t, in, s, &Options{Lock: tc.lock})
			if err != nil {
				t.Fatal(err)
			}
			filled, field := fillField(t, signed)
			rep := verifyBytes(t, filled, offlineOpts(pki))
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures", len(rep.Signatures))
			}
			got := rep.Signatures[0]
			if got.Indication != tc.want {
				t.Fatalf("filling %q: %s/%s, want %s\n%s", field, got.Indication, got.SubIndication, tc.want, dumpReport(rep))
			}
			if tc.want == Indeterminate && (got.SubIndication != SigConstraintsFailure || !strings.Contains(strings.Join(got.Reasons, " "), "FieldMDP")) {
				t.Errorf("%s, reasons do not name the lock: %v", got.SubIndication, got.Reasons)
			}
		})
	}
	// Include names the field: locked; a lock on another field: allowed.
	signed, _, err := signBytes(t, in, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, field := fillField(t, signed)
	for _, tc := range []struct {
		fields []string
		want   Indication
	}{{[]string{field}, Indeterminate}, {[]string{"other"}, TotalPassed}} {
		signed, _, err := signBytes(t, in, s, &Options{Lock: &FieldLock{Action: "Include", Fields: tc.fields}})
		if err != nil {
			t.Fatal(err)
		}
		filled, _ := fillField(t, signed)
		if got := verifyBytes(t, filled, offlineOpts(pki)).Signatures[0].Indication; got != tc.want {
			t.Errorf("Include %v: %s, want %s", tc.fields, got, tc.want)
		}
	}
}
