package pades

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// Samples for the revision diff (issue 12): each attack next to its benign
// twin, with the exact indication expected. They are built at test time
// from our own signed output, edited by hand and, where the edit touches
// signed bytes, signed again with resign.

// resign recomputes the last signature of data after its signed revision
// was edited by hand: the last /ByteRange is set to cover the whole file
// but the last /Contents value, and a new CMS signature by e goes in.
func resign(t *testing.T, e *testcerts.Entity, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	brS, brE, cS, cE := lastSigDict(t, out)
	br := fmt.Sprintf("/ByteRange [0 %d %d %d]", cS, cE, len(out)-cE)
	if len(br) > brE-brS {
		t.Fatalf("ByteRange %s does not fit in %d bytes", br, brE-brS)
	}
	copy(out[brS:], pad(br, brE-brS))
	h := sha256.New()
	h.Write(out[:cS])
	h.Write(out[cE:])
	sd, err := cms.Sign(rand.Reader, e.Key, cms.Params{ContentDigest: h.Sum(nil), Hash: crypto.SHA256, Certificate: e.Cert, Chain: e.Chain})
	if err != nil {
		t.Fatal(err)
	}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hx := hex.EncodeToString(der)
	if len(hx) > cE-cS-2 {
		t.Fatalf("CMS of %d bytes does not fit", len(der))
	}
	copy(out[cS+1:], hx)
	for i := cS + 1 + len(hx); i < cE-1; i++ {
		out[i] = '0'
	}
	return out
}

// objOffset returns the offset of the last "N 0 obj" in data[:limit].
func objOffset(t *testing.T, data []byte, num, limit int) int64 {
	t.Helper()
	i := bytes.LastIndex(data[:limit], []byte(fmt.Sprintf("\n%d 0 obj", num)))
	if i < 0 {
		t.Fatalf("object %d not found", num)
	}
	return int64(i + 1)
}

func hybridize(t *testing.T, data []byte, num int, es ...samplepdf.XrefEntry) []byte {
	t.Helper()
	out, err := samplepdf.Hybridize(data, num, es)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sizeOf(t *testing.T, data []byte) int {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return int(r.MaxObjectNumber()) + 1
}

// TestDiffHybridPrecedence: ISO 32000-1 7.5.8.4, the table of a hybrid
// section wins over its /XRefStm stream, in the reader and in the diff.
func TestDiffHybridPrecedence(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	doc := handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET")
	signed := signedHand(t, pki, doc, nil)
	t.Run("benign-signed-hybrid-revision", func(t *testing.T) {
		// The signing revision's table lists the new catalog (with the
		// form); its /XRefStm lists the original catalog. qpdf and
		// poppler resolve the new one: the signature is found and valid.
		hy := hybridize(t, signed, sizeOf(t, signed), samplepdf.XrefEntry{Num: 1, Type: 1, Offset: objOffset(t, signed, 1, len(doc))})
		hy = resign(t, e, hy)
		rep := verifyBytes(t, hy, offlineOpts(pki))
		wantSig(t, rep, 0, TotalPassed, "")
		if rep.Indication != TotalPassed {
			t.Fatalf("document %s", rep.Indication)
		}
	})
	t.Run("attack-stream-hides-table-entry", func(t *testing.T) {
		// A later hybrid update: the table points the page content (4)
		// at new text, the /XRefStm at the signed body. Viewers follow
		// the table; so must the diff.
		upd := rawUpdate(t, signed, map[int]string{4: "<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)   Tj ET\nendstream"}, "")
		upd = hybridize(t, upd, sizeOf(t, upd), samplepdf.XrefEntry{Num: 4, Type: 1, Offset: objOffset(t, signed, 4, len(doc))})
		rep := verifyBytes(t, upd, offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, FormatFailure)
	})
}
