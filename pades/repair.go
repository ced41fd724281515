package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/semnat/semnat/pades/pdf"
)

// Errors of Repair.
var (
	ErrDamagedSigned = errors.New("pades: the PDF is damaged and holds a signature; rewriting it would break that signature, so it is not repaired (ask its sender for an intact copy)")
	ErrNotDamaged    = errors.New("pades: the PDF is not damaged; there is nothing to repair")
)

// Repair rewrites a damaged PDF that holds no signature into out as an
// intact one: the same objects under the same numbers, found by scanning
// the file, with one new cross-reference table (an encrypted file keeps its
// encryption; password opens it). It returns why the file needed repair.
// A damaged file that holds a signature is refused (ErrDamagedSigned), an
// intact one too (ErrNotDamaged): neither must be rewritten before signing.
func Repair(in io.ReaderAt, size int64, out io.Writer, password []byte) ([]string, error) {
	r, err := pdf.Open(in, size, &pdf.Options{Password: password})
	if err != nil {
		if errors.Is(err, pdf.ErrNotPDF) {
			return nil, NotPDF(err)
		}
		return nil, fmt.Errorf("pades: reading the PDF: %w", err)
	}
	if enc := r.Encrypted(); enc != nil {
		if !r.Decrypting() {
			return nil, fmt.Errorf("%w (%s)", ErrEncrypted, enc)
		}
		if !enc.AllowsSigning() {
			return nil, fmt.Errorf("%w: neither form filling (bit 9) nor annotations (bit 6) are permitted (/P %d)", ErrNotPermitted, int32(enc.Permissions))
		}
	}
	cat, err := r.Catalog()
	if err != nil {
		return nil, fmt.Errorf("pades: the damaged PDF's catalog cannot be found (%w); it cannot be repaired", err)
	}
	if !r.Repaired() {
		// Damage can show only when some object is read: read them all.
		if _, err := r.Rewrite(io.Discard); err != nil || !r.Repaired() {
			return nil, ErrNotDamaged
		}
	}
	if signed, err := holdsSignature(r, cat, in, size); err != nil {
		return nil, err
	} else if signed {
		return nil, fmt.Errorf("%w (%v)", ErrDamagedSigned, r.RepairReasons())
	}
	if _, err := r.Rewrite(out); err != nil {
		return nil, fmt.Errorf("pades: rewriting the damaged PDF: %w", err)
	}
	return r.RepairReasons(), nil
}

// RepairFile is Repair from inPath into outPath, written atomically.
func RepairFile(inPath, outPath string, password []byte) ([]string, error) {
	in, err := os.Open(inPath)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return nil, err
	}
	return writeAtomically(outPath, func(w io.Writer) ([]string, error) {
		return Repair(in, st.Size(), w, password)
	})
}

// holdsSignature tells whether a (damaged) file holds a signature: a
// signed field of its form, or a /ByteRange anywhere in its bytes (a
// damaged file may hold signatures its form no longer reaches).
func holdsSignature(r *pdf.Reader, cat *pdf.Dict, in io.ReaderAt, size int64) (bool, error) {
	if af, err := readAcroForm(r, cat); err == nil {
		for _, f := range af.Fields {
			if f.IsSignature() && f.Signed() {
				return true, nil
			}
		}
	}
	const chunk = 1 << 20
	key := []byte("/ByteRange")
	buf := make([]byte, chunk+len(key))
	for off := int64(0); off < size; off += chunk {
		n, err := in.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && err != io.EOF {
			return false, fmt.Errorf("pades: reading the PDF: %w", err)
		}
		if bytes.Contains(buf[:n], key) {
			return true, nil
		}
	}
	return false, nil
}
