package pades

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/testcerts"
)

// TestStampPlacement: a stamp outside the page's crop box is refused with
// ErrStampOutsidePage; Corner puts it in a corner of the crop box; the
// stamp's date is in Europe/Chisinau with its zone.
func TestStampPlacement(t *testing.T) {
	pki := testcerts.New(t)
	in := samplepdf.Document("Contract", []string{"nr. 1"}, 0) // A4: 595 × 842 pt
	signer := entitySigner(pki, "person-rsa2048")
	for _, rc := range [][4]float64{{500, 700, 700, 760}, {-10, 10, 190, 70}, {100, 800, 300, 860}} {
		if _, _, err := signBytes(t, in, signer, &Options{Visible: &Visible{Page: 1, Rect: rc}}); !errors.Is(err, ErrStampOutsidePage) {
			t.Errorf("rect %v: %v, want ErrStampOutsidePage", rc, err)
		}
	}
	if _, _, err := signBytes(t, in, signer, &Options{Visible: &Visible{Page: 1, Corner: "middle"}}); !errors.Is(err, ErrStampOutsidePage) {
		t.Errorf("unknown corner: %v", err)
	}
	for corner, want := range map[string]string{
		"top-right":   "/Rect [365.0 752.0 565.0 812.0]",
		"bottom-left": "/Rect [30.0 30.0 230.0 90.0]",
	} {
		out, _, err := signBytes(t, in, signer, &Options{Visible: &Visible{Page: 1, Corner: corner}})
		if err != nil {
			t.Fatalf("%s: %v", corner, err)
		}
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("%s: no %s in the output", corner, want)
		}
	}
}

func TestStampDateInChisinau(t *testing.T) {
	lines := stampLines(&Options{}, testcerts.New(t).MustGet("person-rsa2048").Cert, time.Date(2026, 7, 1, 21, 5, 0, 0, time.UTC))
	found := false
	for _, l := range lines {
		if l == "Data: 02.07.2026 00:05:00 EEST" {
			found = true
		}
	}
	if !found {
		t.Fatalf("stamp lines: %q", lines)
	}
}
