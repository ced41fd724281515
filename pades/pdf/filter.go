package pdf

import (
	"bufio"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Filter decoding. Every decoder is a streaming io.Reader, so that a chain
// of filters never holds more than a few rows in memory; the caller caps the
// decoded size with limitReader.

// filterSpec is one stage of a filter chain.
type filterSpec struct {
	name  Name
	parms *Dict // may be nil
}

// DecodeFilters returns a reader of the data read from raw decoded by the
// given chain of filters (outermost first, as in a stream's /Filter array),
// producing at most limit bytes: reading past limit fails with ErrLimit.
// parms[i] (may be nil or shorter than filters) are the /DecodeParms.
func DecodeFilters(raw io.Reader, filters []Name, parms []*Dict, limit int64) (io.Reader, error) {
	specs := make([]filterSpec, len(filters))
	for i, f := range filters {
		specs[i].name = f
		if i < len(parms) {
			specs[i].parms = parms[i]
		}
	}
	return decodeChain(raw, specs, limit)
}

func decodeChain(raw io.Reader, specs []filterSpec, limit int64) (io.Reader, error) {
	r := raw
	for _, f := range specs {
		var err error
		r, err = decodeOne(r, f, limit)
		if err != nil {
			return nil, err
		}
	}
	return &limitReader{r: r, n: limit}, nil
}

func decodeOne(r io.Reader, f filterSpec, limit int64) (io.Reader, error) {
	switch f.name {
	case "FlateDecode", "Fl":
		fr := newFlateReader(r)
		return predictorReader(fr, f.parms, limit)
	case "LZWDecode", "LZW":
		early := 1
		if f.parms != nil {
			if v, ok := f.parms.Int("EarlyChange"); ok {
				early = int(v)
			}
		}
		return predictorReader(newLZWReader(r, early != 0), f.parms, limit)
	case "ASCIIHexDecode", "AHx":
		return &asciiHexReader{r: bufio.NewReader(r)}, nil
	case "ASCII85Decode", "A85":
		return &ascii85Reader{r: bufio.NewReader(r)}, nil
	case "RunLengthDecode", "RL":
		return &runLengthReader{r: bufio.NewReader(r)}, nil
	case "Crypt":
		if f.parms != nil {
			if n, _ := f.parms.Name("Name"); n != "" && n != "Identity" {
				return nil, fmt.Errorf("%w: Crypt filter /%s", ErrEncrypted, n)
			}
		}
		return r, nil // Identity crypt filter
	}
	return nil, fmt.Errorf("%w: /%s", ErrUnsupportedFilter, f.name)
}

// limitReader fails with ErrLimit once more than n bytes would be produced.
type limitReader struct {
	r    io.Reader
	n    int64 // bytes still allowed
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.over {
		return 0, limitErr("decoded stream size", -1)
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.n {
		l.over = true
		n = int(l.n)
		l.n = 0
		return n, fmt.Errorf("%w: decoded stream larger than the limit", ErrLimit)
	}
	l.n -= int64(n)
	return n, err
}

// flateReader inflates zlib data, tolerating raw deflate data (no zlib
// header), a bad Adler-32 checksum and truncated input, as PDF readers do.
// Its decompressor and buffer come from pools and go back when the stream
// ends: a document has many small streams (a DSS holds dozens), and a fresh
// inflater costs more than inflating a certificate.
type flateReader struct {
	src  *bufio.Reader
	r    io.Reader
	zlib bool
	init bool
	err  error
}

var (
	bufioPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	zlibPool    sync.Pool // io.ReadCloser implementing zlib.Resetter
	inflatePool sync.Pool // io.ReadCloser implementing flate.Resetter
)

func newFlateReader(r io.Reader) *flateReader {
	b := bufioPool.Get().(*bufio.Reader)
	b.Reset(r)
	return &flateReader{src: b}
}

// release returns the pooled parts once the stream is over.
func (f *flateReader) release() {
	if f.r != nil {
		if f.zlib {
			zlibPool.Put(f.r)
		} else {
			inflatePool.Put(f.r)
		}
		f.r = nil
	}
	if f.src != nil {
		f.src.Reset(nil)
		bufioPool.Put(f.src)
		f.src = nil
	}
}

func (f *flateReader) start() error {
	hdr, _ := f.src.Peek(2)
	switch {
	case len(hdr) == 2 && hdr[0]&0x0f == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 && hdr[1]&0x20 == 0:
		f.zlib = true
		if zr, ok := zlibPool.Get().(io.ReadCloser); ok {
			if err := zr.(zlib.Resetter).Reset(f.src, nil); err != nil {
				return fmt.Errorf("pdf: FlateDecode: %w", err)
			}
			f.r = zr
			return nil
		}
		zr, err := zlib.NewReader(f.src)
		if err != nil {
			return fmt.Errorf("pdf: FlateDecode: %w", err)
		}
		f.r = zr
	case len(hdr) == 0:
		return io.EOF
	default:
		if fr, ok := inflatePool.Get().(io.ReadCloser); ok {
			if err := fr.(flate.Resetter).Reset(f.src, nil); err != nil {
				return fmt.Errorf("pdf: FlateDecode: %w", err)
			}
			f.r = fr
			return nil
		}
		f.r = flate.NewReader(f.src)
	}
	return nil
}

func (f *flateReader) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if !f.init {
		f.init = true
		if err := f.start(); err != nil {
			f.err = err
			f.release()
			return 0, err
		}
	}
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, zlib.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF // tolerated: the data decoded so far is kept
		} else {
			err = fmt.Errorf("pdf: FlateDecode: %w", err)
		}
	}
	if err != nil {
		f.err = err
		f.release()
	}
	return n, err
}

// predictorReader applies /Predictor (2: TIFF, 10-15: PNG) from parms.
func predictorReader(r io.Reader, parms *Dict, limit int64) (io.Reader, error) {
	if parms == nil {
		return r, nil
	}
	pred, _ := parms.Int("Predictor")
	if pred <= 1 {
		return r, nil
	}
	colors, bpc, cols := int64(1), int64(8), int64(1)
	if v, ok := parms.Int("Colors"); ok {
		colors = v
	}
	if v, ok := parms.Int("BitsPerComponent"); ok {
		bpc = v
	}
	if v, ok := parms.Int("Columns"); ok {
		cols = v
	}
	if colors < 1 || colors > 32 {
		return nil, fmt.Errorf("%w: predictor /Colors %d out of range", ErrSyntax, colors)
	}
	switch bpc {
	case 1, 2, 4, 8, 16:
	default:
		return nil, fmt.Errorf("%w: predictor /BitsPerComponent %d invalid", ErrSyntax, bpc)
	}
	if cols < 1 || cols > 1<<24 {
		return nil, fmt.Errorf("%w: predictor /Columns %d out of range", ErrSyntax, cols)
	}
	rowBits := colors * bpc * cols
	rowLen := (rowBits + 7) / 8
	if rowLen > limit+1 {
		return nil, limitErr("predictor row length", limit)
	}
	bpp := int((colors*bpc + 7) / 8)
	switch {
	case pred == 2:
		return &tiffPredictor{r: r, row: make([]byte, rowLen), colors: int(colors), bpc: int(bpc)}, nil
	case pred >= 10 && pred <= 15:
		return &pngPredictor{r: r, prev: make([]byte, rowLen), cur: make([]byte, rowLen+1), bpp: bpp}, nil
	}
	return nil, fmt.Errorf("%w: unknown /Predictor %d", ErrUnsupportedFilter, pred)
}

type pngPredictor struct {
	r    io.Reader
	prev []byte // previous decoded row
	cur  []byte // filter type byte + row
	out  []byte // pending decoded bytes
	bpp  int
	err  error
}

func (p *pngPredictor) Read(b []byte) (int, error) {
	for len(p.out) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		n, err := io.ReadFull(p.r, p.cur)
		if err == io.EOF {
			p.err = io.EOF
			return 0, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			// A short last row: decode what is there.
			p.err = io.EOF
		} else if err != nil {
			p.err = err
			return 0, err
		}
		if n == 0 {
			continue
		}
		row := p.cur[1:n]
		prev := p.prev
		bpp := p.bpp
		switch p.cur[0] {
		case 0:
		case 1: // Sub
			for i := bpp; i < len(row); i++ {
				row[i] += row[i-bpp]
			}
		case 2: // Up
			for i := range row {
				row[i] += prev[i]
			}
		case 3: // Average
			for i := range row {
				var left byte
				if i >= bpp {
					left = row[i-bpp]
				}
				row[i] += byte((int(left) + int(prev[i])) / 2)
			}
		case 4: // Paeth
			for i := range row {
				var a, c byte
				if i >= bpp {
					a, c = row[i-bpp], prev[i-bpp]
				}
				row[i] += paeth(a, prev[i], c)
			}
		default:
			p.err = fmt.Errorf("%w: PNG predictor: invalid row filter type %d", ErrSyntax, p.cur[0])
			return 0, p.err
		}
		copy(p.prev, row)
		p.out = row
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

type tiffPredictor struct {
	r      io.Reader
	row    []byte
	out    []byte
	colors int
	bpc    int
	err    error
}

func (t *tiffPredictor) Read(b []byte) (int, error) {
	for len(t.out) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		n, err := io.ReadFull(t.r, t.row)
		if err == io.EOF {
			t.err = io.EOF
			return 0, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			t.err = io.EOF
		} else if err != nil {
			t.err = err
			return 0, err
		}
		row := t.row[:n]
		switch t.bpc {
		case 8:
			for i := t.colors; i < len(row); i++ {
				row[i] += row[i-t.colors]
			}
		case 16:
			step := 2 * t.colors
			for i := step; i+1 < len(row); i += 2 {
				v := (uint16(row[i])<<8 | uint16(row[i+1])) + (uint16(row[i-step])<<8 | uint16(row[i-step+1]))
				row[i], row[i+1] = byte(v>>8), byte(v)
			}
		default: // 1, 2, 4 bits per component
			bits := t.bpc
			mask := uint(1<<bits - 1)
			nComp := len(row) * 8 / bits
			get := func(k int) uint {
				bit := k * bits
				return uint(row[bit/8]>>(8-bits-bit%8)) & mask
			}
			set := func(k int, v uint) {
				bit := k * bits
				sh := 8 - bits - bit%8
				row[bit/8] = row[bit/8]&^byte(mask<<sh) | byte((v&mask)<<sh)
			}
			for k := t.colors; k < nComp; k++ {
				set(k, get(k)+get(k-t.colors))
			}
		}
		t.out = row
	}
	n := copy(b, t.out)
	t.out = t.out[n:]
	return n, nil
}

// asciiHexReader decodes ASCIIHexDecode; '>' ends the data.
type asciiHexReader struct {
	r    *bufio.Reader
	done bool
}

func (a *asciiHexReader) Read(p []byte) (int, error) {
	n := 0
	hi := -1
	for n < len(p) && !a.done {
		c, err := a.r.ReadByte()
		if err == io.EOF {
			a.done = true
			break
		}
		if err != nil {
			return n, err
		}
		if c == '>' {
			a.done = true
			break
		}
		if isSpace(c) {
			continue
		}
		v := unhex(c)
		if v < 0 {
			return n, fmt.Errorf("%w: ASCIIHexDecode: invalid character %q", ErrSyntax, c)
		}
		if hi < 0 {
			hi = v
			continue
		}
		p[n] = byte(hi<<4 | v)
		n++
		hi = -1
	}
	if hi >= 0 {
		// Odd digit count: the last digit is followed by an implied 0. Only
		// possible at the end of the data (the loop stops at len(p) on a
		// byte boundary otherwise).
		if n < len(p) {
			p[n] = byte(hi << 4)
			n++
		} else {
			a.r.UnreadByte()
		}
	}
	if n == 0 && a.done {
		return 0, io.EOF
	}
	return n, nil
}

// ascii85Reader decodes ASCII85Decode; "~>" ends the data.
type ascii85Reader struct {
	r    *bufio.Reader
	out  [4]byte
	nout int
	pos  int
	done bool
}

func (a *ascii85Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if a.pos < a.nout {
			c := copy(p[n:], a.out[a.pos:a.nout])
			a.pos += c
			n += c
			continue
		}
		if a.done {
			break
		}
		if err := a.group(); err != nil {
			return n, err
		}
	}
	if n == 0 && a.done && a.pos >= a.nout {
		return 0, io.EOF
	}
	return n, nil
}

// group decodes the next group of up to five characters into a.out.
func (a *ascii85Reader) group() error {
	var digs [5]byte
	k := 0
	a.pos, a.nout = 0, 0
	for k < 5 {
		c, err := a.r.ReadByte()
		if err == io.EOF {
			a.done = true
			break
		}
		if err != nil {
			return err
		}
		switch {
		case isSpace(c):
			continue
		case c == '~':
			a.done = true
		case c == 'z' && k == 0:
			a.out = [4]byte{}
			a.nout = 4
			return nil
		case c >= '!' && c <= 'u':
			digs[k] = c - '!'
			k++
			continue
		default:
			return fmt.Errorf("%w: ASCII85Decode: invalid character %q", ErrSyntax, c)
		}
		break
	}
	if k == 0 {
		return nil
	}
	if k == 1 {
		return fmt.Errorf("%w: ASCII85Decode: final group of one character", ErrSyntax)
	}
	for i := k; i < 5; i++ {
		digs[i] = 'u' - '!'
	}
	var v uint64
	for _, d := range digs {
		v = v*85 + uint64(d)
	}
	if v > 1<<32-1 {
		return fmt.Errorf("%w: ASCII85Decode: group value out of range", ErrSyntax)
	}
	a.out = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	a.nout = k - 1
	return nil
}

// runLengthReader decodes RunLengthDecode; 128 ends the data.
type runLengthReader struct {
	r      *bufio.Reader
	repeat int  // bytes of rep still to emit
	rep    byte // repeated byte
	copyN  int  // literal bytes still to copy
	done   bool
}

func (rl *runLengthReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if rl.repeat > 0 {
			p[n] = rl.rep
			n++
			rl.repeat--
			continue
		}
		if rl.copyN > 0 {
			c, err := rl.r.ReadByte()
			if err != nil {
				rl.done = true
				rl.copyN = 0
				break
			}
			p[n] = c
			n++
			rl.copyN--
			continue
		}
		if rl.done {
			break
		}
		l, err := rl.r.ReadByte()
		if err != nil || l == 128 {
			rl.done = true
			break
		}
		if l < 128 {
			rl.copyN = int(l) + 1
		} else {
			c, err := rl.r.ReadByte()
			if err != nil {
				rl.done = true
				break
			}
			rl.rep, rl.repeat = c, 257-int(l)
		}
	}
	if n == 0 && rl.done {
		return 0, io.EOF
	}
	return n, nil
}

// lzwReader decodes LZWDecode (MSB-first codes, 9 to 12 bits, clear code 256,
// EOD 257). early selects /EarlyChange 1 (the default): the code width grows
// one code early.
type lzwReader struct {
	r     *bufio.Reader
	early int
	bits  uint32
	nbits uint
	width uint

	prefix [4096]uint16
	suffix [4096]byte
	length [4096]uint16
	next   int
	prev   int // previous code, -1 after clear

	out   []byte // decoded bytes pending
	stack [4096]byte
	done  bool
	err   error
}

func newLZWReader(r io.Reader, early bool) *lzwReader {
	z := &lzwReader{r: bufio.NewReader(r)}
	if early {
		z.early = 1
	}
	z.reset()
	for i := 0; i < 256; i++ {
		z.suffix[i] = byte(i)
		z.length[i] = 1
	}
	return z
}

func (z *lzwReader) reset() {
	z.next = 258
	z.width = 9
	z.prev = -1
}

func (z *lzwReader) readCode() (int, bool) {
	for z.nbits < z.width {
		c, err := z.r.ReadByte()
		if err != nil {
			return 0, false
		}
		z.bits = z.bits<<8 | uint32(c)
		z.nbits += 8
	}
	code := int(z.bits>>(z.nbits-z.width)) & (1<<z.width - 1)
	z.nbits -= z.width
	z.bits &= 1<<z.nbits - 1
	return code, true
}

func (z *lzwReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(z.out) > 0 {
			c := copy(p[n:], z.out)
			z.out = z.out[c:]
			n += c
			continue
		}
		if z.done {
			break
		}
		code, ok := z.readCode()
		if !ok || code == 257 {
			z.done = true
			break
		}
		if code == 256 {
			z.reset()
			continue
		}
		var first byte
		switch {
		case code < 256 || (code >= 258 && code < z.next):
			z.out = z.expand(code)
			first = z.out[0]
		case code == z.next && z.prev >= 0:
			// KwKwK case: prev string + its own first byte.
			pv := z.expand(z.prev)
			first = pv[0]
			z.out = append(pv, first)
		default:
			z.done = true
			z.err = fmt.Errorf("%w: LZWDecode: invalid code %d", ErrSyntax, code)
		}
		if z.err != nil {
			break
		}
		if z.prev >= 0 && z.next < 4096 {
			z.prefix[z.next] = uint16(z.prev)
			z.suffix[z.next] = first
			z.length[z.next] = z.length[z.prev] + 1
			z.next++
		}
		z.prev = code
		if z.next+z.early >= 1<<z.width && z.width < 12 {
			z.width++
		}
	}
	if n == 0 {
		if z.err != nil {
			return 0, z.err
		}
		if z.done {
			return 0, io.EOF
		}
	}
	return n, nil
}

// expand returns the string for code (a copy owned by the caller's z.out).
func (z *lzwReader) expand(code int) []byte {
	l := int(z.length[code])
	buf := z.stack[:l]
	for i := l - 1; i >= 0; i-- {
		buf[i] = z.suffix[code]
		code = int(z.prefix[code])
	}
	out := make([]byte, l)
	copy(out, buf)
	return out
}
