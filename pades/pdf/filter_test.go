package pdf

import (
	"bytes"
	"compress/lzw"
	"compress/zlib"
	"encoding/ascii85"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func decodeAll(t *testing.T, raw []byte, filters []Name, parms []*Dict, limit int64) ([]byte, error) {
	t.Helper()
	rd, err := DecodeFilters(bytes.NewReader(raw), filters, parms, limit)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rd)
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func randBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		// Low entropy so that LZW and predictors see repeats.
		b[i] = byte(rng.IntN(6)) + 'a'
	}
	return b
}

// pngEncode applies PNG filter type ft to every row (the inverse of the
// predictor) with bpp bytes per pixel.
func pngEncode(data []byte, rowLen, bpp int, ft byte) []byte {
	var out []byte
	prev := make([]byte, rowLen)
	for off := 0; off < len(data); off += rowLen {
		row := data[off:min(off+rowLen, len(data))]
		out = append(out, ft)
		for i, c := range row {
			var left, up, ul byte
			if i >= bpp {
				left, ul = row[i-bpp], prev[i-bpp]
			}
			up = prev[i]
			var p byte
			switch ft {
			case 1:
				p = left
			case 2:
				p = up
			case 3:
				p = byte((int(left) + int(up)) / 2)
			case 4:
				p = paeth(left, up, ul)
			}
			out = append(out, c-p)
		}
		copy(prev, row)
	}
	return out
}

func TestFlatePredictors(t *testing.T) {
	data := randBytes(5*7*3, 1) // 7 rows of 5 RGB pixels
	for ft := byte(0); ft <= 4; ft++ {
		enc := zlibBytes(pngEncode(data, 15, 3, ft))
		parms := NewDict(DictEntry{"Predictor", Integer(10 + int64(ft))}, DictEntry{"Colors", Integer(3)}, DictEntry{"Columns", Integer(5)})
		got, err := decodeAll(t, enc, []Name{"FlateDecode"}, []*Dict{parms}, 1<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("PNG filter %d: %v, got %q want %q", ft, err, got, data)
		}
	}
	// TIFF predictor 2, 8 bits, 2 colours.
	var tiff []byte
	data = data[:100]
	for off := 0; off < len(data); off += 10 {
		row := data[off : off+10]
		for i := range row {
			if i >= 2 {
				tiff = append(tiff, row[i]-row[i-2])
			} else {
				tiff = append(tiff, row[i])
			}
		}
	}
	parms := NewDict(DictEntry{"Predictor", Integer(2)}, DictEntry{"Colors", Integer(2)}, DictEntry{"Columns", Integer(5)})
	got, err := decodeAll(t, zlibBytes(tiff), []Name{"Fl"}, []*Dict{parms}, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("TIFF predictor: %v", err)
	}
	// Xref stream style: /Columns 4 /Predictor 12 (PNG Up).
	xr := []byte{1, 0, 0x10, 0, 1, 0, 0x20, 0, 2, 0, 5, 1}
	got, err = decodeAll(t, zlibBytes(pngEncode(xr, 4, 1, 2)), []Name{"FlateDecode"},
		[]*Dict{NewDict(DictEntry{"Predictor", Integer(12)}, DictEntry{"Columns", Integer(4)})}, 1<<20)
	if err != nil || !bytes.Equal(got, xr) {
		t.Errorf("PNG Up, 4 columns: %v %x", err, got)
	}
	// Invalid row filter type.
	_, err = decodeAll(t, zlibBytes([]byte{7, 1, 2, 3, 4}), []Name{"FlateDecode"},
		[]*Dict{NewDict(DictEntry{"Predictor", Integer(12)}, DictEntry{"Columns", Integer(4)})}, 1<<20)
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("bad PNG row type: %v", err)
	}
}

func TestFlateTolerance(t *testing.T) {
	data := []byte(strings.Repeat("hello flate ", 100))
	z := zlibBytes(data)
	// Raw deflate (no zlib header).
	got, err := decodeAll(t, z[2:len(z)-4], []Name{"FlateDecode"}, nil, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("raw deflate: %v", err)
	}
	// Bad checksum.
	bad := append([]byte(nil), z...)
	bad[len(bad)-1] ^= 0xff
	got, err = decodeAll(t, bad, []Name{"FlateDecode"}, nil, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("bad checksum: %v", err)
	}
	// Empty data.
	got, err = decodeAll(t, nil, []Name{"FlateDecode"}, nil, 1<<20)
	if err != nil || len(got) != 0 {
		t.Errorf("empty: %v %q", err, got)
	}
}

func TestZipBomb(t *testing.T) {
	// 64 MiB of zeros compress to ~64 KiB; a 1 MiB limit must stop it.
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	zero := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		w.Write(zero)
	}
	w.Close()
	_, err := decodeAll(t, buf.Bytes(), []Name{"FlateDecode"}, nil, 1<<20)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("zip bomb: %v", err)
	}
	// Exactly at the limit is fine.
	got, err := decodeAll(t, zlibBytes(zero), []Name{"FlateDecode"}, nil, 1<<20)
	if err != nil || len(got) != 1<<20 {
		t.Fatalf("at the limit: %v, %d", err, len(got))
	}
}

func TestASCIIFilters(t *testing.T) {
	data := []byte("Hello, PDF world!\x00\xff\x80 z zzzz")
	hx := hex.EncodeToString(data)
	hx = hx[:10] + " \n" + strings.ToUpper(hx[10:]) + ">"
	got, err := decodeAll(t, []byte(hx), []Name{"ASCIIHexDecode"}, nil, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ASCIIHex: %v %q", err, got)
	}
	got, err = decodeAll(t, []byte("414>"), []Name{"AHx"}, nil, 1<<20)
	if err != nil || !bytes.Equal(got, []byte{0x41, 0x40}) {
		t.Errorf("ASCIIHex odd: %v %x", err, got)
	}
	if _, err = decodeAll(t, []byte("4G>"), []Name{"AHx"}, nil, 1<<20); !errors.Is(err, ErrSyntax) {
		t.Errorf("ASCIIHex invalid: %v", err)
	}

	for _, n := range []int{0, 1, 2, 3, 4, 5, 8, 9, 100} {
		in := append(make([]byte, 8), randBytes(n, uint64(n))...) // leading zeros give 'z'
		enc := make([]byte, ascii85.MaxEncodedLen(len(in)))
		enc = enc[:ascii85.Encode(enc, in)]
		// Insert white space and terminate with ~>.
		src := string(enc[:len(enc)/2]) + "\n " + string(enc[len(enc)/2:]) + "~>"
		got, err := decodeAll(t, []byte(src), []Name{"ASCII85Decode"}, nil, 1<<20)
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("ASCII85 n=%d: %v\n got %x\nwant %x", n, err, got, in)
		}
	}
	if _, err := decodeAll(t, []byte("ab{~>"), []Name{"A85"}, nil, 1<<20); !errors.Is(err, ErrSyntax) {
		t.Errorf("ASCII85 invalid: %v", err)
	}

	// Filter chain: ASCIIHex of Flate.
	z := zlibBytes(data)
	got, err = decodeAll(t, []byte(hex.EncodeToString(z)+">"), []Name{"ASCIIHexDecode", "FlateDecode"}, nil, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("chain: %v", err)
	}
}

func TestRunLength(t *testing.T) {
	// 3 literal bytes, 5 x 'z', EOD, then garbage.
	src := []byte{2, 'a', 'b', 'c', 256 - 4, 'z', 128, 'x'}
	got, err := decodeAll(t, src, []Name{"RunLengthDecode"}, nil, 1<<20)
	if err != nil || string(got) != "abczzzzz" {
		t.Errorf("RunLength: %v %q", err, got)
	}
	// Missing EOD and truncated literal run: what is there is kept.
	got, err = decodeAll(t, []byte{4, 'a', 'b'}, []Name{"RL"}, nil, 1<<20)
	if err != nil || string(got) != "ab" {
		t.Errorf("RunLength truncated: %v %q", err, got)
	}
}

// lzwEncodeEarly encodes like a PDF writer with /EarlyChange 1.
func lzwEncodeEarly(data []byte) []byte {
	var out []byte
	var acc uint64
	var nacc uint
	width := uint(9)
	emit := func(code int) {
		acc = acc<<width | uint64(code)
		nacc += width
		for nacc >= 8 {
			out = append(out, byte(acc>>(nacc-8)))
			nacc -= 8
		}
	}
	dict := map[string]int{}
	next := 258
	emit(256)
	w := ""
	for _, c := range data {
		wc := w + string(c)
		if len(wc) == 1 {
			w = wc
			continue
		}
		if _, ok := dict[wc]; ok {
			w = wc
			continue
		}
		code := int(w[0])
		if len(w) > 1 {
			code = dict[w]
		}
		emit(code)
		dict[wc] = next
		next++
		// The decoder adds this entry one code later (its next is ours
		// minus one) and widens one code early: when its next+1 reaches
		// 2^width.
		if next >= 1<<width && width < 12 {
			width++
		}
		if next >= 4094 {
			emit(256)
			dict = map[string]int{}
			next = 258
			width = 9
		}
		w = string(c)
	}
	if w != "" {
		code := int(w[0])
		if len(w) > 1 {
			code = dict[w]
		}
		emit(code)
		next++ // the decoder adds an entry for this last code too
		if next >= 1<<width && width < 12 {
			width++
		}
	}
	emit(257)
	if nacc > 0 {
		out = append(out, byte(acc<<(8-nacc)))
	}
	return out
}

func TestLZW(t *testing.T) {
	// ISO 32000-1 7.4.4.2, example: "-----A---B".
	spec := []byte{0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01}
	got, err := decodeAll(t, spec, []Name{"LZWDecode"}, nil, 1<<20)
	if err != nil || string(got) != "-----A---B" {
		t.Errorf("spec example: %v %q", err, got)
	}
	// EarlyChange 0 is the GIF variant Go's compress/lzw writes.
	data := randBytes(200000, 7)
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.MSB, 8)
	w.Write(data)
	w.Close()
	got, err = decodeAll(t, buf.Bytes(), []Name{"LZWDecode"}, []*Dict{NewDict(DictEntry{"EarlyChange", Integer(0)})}, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("EarlyChange 0: %v (%d of %d bytes)", err, len(got), len(data))
	}
	// EarlyChange 1 (default), across code-width changes and table resets.
	got, err = decodeAll(t, lzwEncodeEarly(data), []Name{"LZW"}, nil, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("EarlyChange 1: %v (%d of %d bytes)", err, len(got), len(data))
	}
	// Garbage codes fail cleanly.
	if _, err := decodeAll(t, []byte{0xff, 0xff, 0xff, 0xff}, []Name{"LZWDecode"}, nil, 1<<20); !errors.Is(err, ErrSyntax) {
		t.Errorf("invalid code: %v", err)
	}
}

func TestUnsupportedFilter(t *testing.T) {
	for _, f := range []Name{"DCTDecode", "JPXDecode", "CCITTFaxDecode", "JBIG2Decode", "Bogus"} {
		if _, err := decodeAll(t, []byte("x"), []Name{f}, nil, 1<<20); !errors.Is(err, ErrUnsupportedFilter) {
			t.Errorf("%s: %v", f, err)
		}
	}
}
