package pdf

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
)

// Character classes (ISO 32000-1 7.2.2).
const (
	clsRegular = iota
	clsSpace
	clsDelim
)

var charClass = func() (t [256]uint8) {
	for _, c := range []byte{0, '\t', '\n', '\f', '\r', ' '} {
		t[c] = clsSpace
	}
	for _, c := range []byte("()<>[]{}/%") {
		t[c] = clsDelim
	}
	return
}()

func isSpace(c byte) bool   { return charClass[c] == clsSpace }
func isRegular(c byte) bool { return charClass[c] == clsRegular }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }

type tokKind uint8

const (
	tEOF tokKind = iota
	tInt
	tReal
	tName
	tString
	tHexString
	tKeyword
	tArrayOpen
	tArrayClose
	tDictOpen
	tDictClose
	tBraceOpen
	tBraceClose
)

// Keywords the parser cares about; everything else is kwOther.
type keyword uint8

const (
	kwOther keyword = iota
	kwTrue
	kwFalse
	kwNull
	kwR
	kwObj
	kwEndobj
	kwStream
	kwEndstream
	kwXref
	kwTrailer
	kwStartxref
	kwN
	kwF
)

var keywords = map[string]keyword{
	"true": kwTrue, "false": kwFalse, "null": kwNull, "R": kwR, "obj": kwObj,
	"endobj": kwEndobj, "stream": kwStream, "endstream": kwEndstream, "xref": kwXref,
	"trailer": kwTrailer, "startxref": kwStartxref, "n": kwN, "f": kwF,
}

type token struct {
	kind tokKind
	kw   keyword
	pos  int64 // offset of the token's first byte
	i    int64 // tInt
	f    float64
	text string // tReal: number text; tName: decoded name; tKeyword kwOther: text (truncated)
	b    []byte // tString, tHexString: decoded bytes (owned)
}

// lexer tokenises PDF syntax either from a source (through its block cache)
// or from an in-memory buffer (decoded object streams). It never allocates
// per byte: strings and names are collected in a reusable scratch buffer.
type lexer struct {
	src  *source // nil: buf is the whole input
	buf  []byte
	base int64 // offset of buf[0]
	pos  int64
	end  int64 // input size
	err  error // sticky I/O error

	maxTok  int
	scratch []byte
}

func newFileLexer(src *source, pos int64, maxTok int) *lexer {
	return &lexer{src: src, pos: pos, end: src.size, maxTok: maxTok}
}

func newMemLexer(data []byte, maxTok int) *lexer {
	return &lexer{buf: data, end: int64(len(data)), maxTok: maxTok}
}

// fill makes pos addressable in buf; it reports false at end of input or on
// I/O error (recorded in l.err).
func (l *lexer) fill() bool {
	if l.src == nil || l.pos >= l.end || l.pos < 0 || l.err != nil {
		return false
	}
	b, start, err := l.src.block(l.pos)
	if err != nil {
		l.err = err
		return false
	}
	l.buf, l.base = b, start
	return true
}

func (l *lexer) peek() (byte, bool) {
	i := l.pos - l.base
	if i >= 0 && i < int64(len(l.buf)) {
		return l.buf[i], true
	}
	if !l.fill() {
		return 0, false
	}
	return l.buf[l.pos-l.base], true
}

func (l *lexer) next() (byte, bool) {
	c, ok := l.peek()
	if ok {
		l.pos++
	}
	return c, ok
}

func (l *lexer) seek(pos int64) { l.pos = pos }

func (l *lexer) errorf(format string, args ...any) error {
	if l.err != nil {
		return l.err
	}
	return &SyntaxError{Offset: l.pos, Msg: sprintf(format, args...)}
}

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() {
	for {
		c, ok := l.peek()
		if !ok {
			return
		}
		if isSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for {
				c, ok := l.next()
				if !ok || c == '\n' || c == '\r' {
					break
				}
			}
			continue
		}
		return
	}
}

// skipEOL skips one end-of-line marker (CR LF, LF or CR) if present.
func (l *lexer) skipEOL() {
	c, ok := l.peek()
	if !ok {
		return
	}
	if c == '\r' {
		l.pos++
		if c, ok := l.peek(); ok && c == '\n' {
			l.pos++
		}
	} else if c == '\n' {
		l.pos++
	}
}

func (l *lexer) addScratch(c byte) bool {
	if len(l.scratch) >= l.maxTok {
		return false
	}
	l.scratch = append(l.scratch, c)
	return true
}

// token reads the next token. At end of input it returns tEOF (or the I/O
// error, if that is why input ended).
func (l *lexer) token() (token, error) {
	l.skipSpace()
	start := l.pos
	c, ok := l.next()
	if !ok {
		if l.err != nil {
			return token{}, l.err
		}
		return token{kind: tEOF, pos: start}, nil
	}
	switch c {
	case '/':
		return l.lexName(start)
	case '(':
		return l.lexString(start)
	case '<':
		if c2, ok := l.peek(); ok && c2 == '<' {
			l.pos++
			return token{kind: tDictOpen, pos: start}, nil
		}
		return l.lexHex(start)
	case '>':
		if c2, ok := l.peek(); ok && c2 == '>' {
			l.pos++
			return token{kind: tDictClose, pos: start}, nil
		}
		l.pos = start
		return token{}, l.errorf("unexpected '>'")
	case '[':
		return token{kind: tArrayOpen, pos: start}, nil
	case ']':
		return token{kind: tArrayClose, pos: start}, nil
	case '{':
		return token{kind: tBraceOpen, pos: start}, nil
	case '}':
		return token{kind: tBraceClose, pos: start}, nil
	case ')':
		l.pos = start
		return token{}, l.errorf("unexpected ')'")
	}
	// A run of regular characters: number or keyword.
	l.scratch = append(l.scratch[:0], c)
	for {
		c, ok := l.peek()
		if !ok || !isRegular(c) {
			break
		}
		if !l.addScratch(c) {
			return token{}, limitErr("token length", int64(l.maxTok))
		}
		l.pos++
	}
	if l.err != nil {
		return token{}, l.err
	}
	w := l.scratch
	if c == '+' || c == '-' || c == '.' || isDigit(c) {
		if t, ok := lexNumber(w, start); ok {
			return t, nil
		}
	}
	t := token{kind: tKeyword, pos: start}
	if len(w) <= 9 {
		t.kw = keywords[string(w)] // no allocation: map lookup with string(bytes)
	}
	if t.kw == kwOther {
		if len(w) > 32 {
			w = w[:32]
		}
		t.text = string(w)
	}
	return t, nil
}

// lexNumber parses an integer or real. It tolerates the common defects of
// a doubled sign ("--5") and a trailing/leading dot ("4.", ".5").
func lexNumber(w []byte, pos int64) (token, bool) {
	s := w
	neg := false
	signs := 0
	for len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			neg = !neg
		}
		s = s[1:]
		signs++
	}
	if signs > 1 {
		neg = true // pdf.js reads "--5" as -5
	}
	if len(s) == 0 {
		return token{}, false
	}
	dot := -1
	for i, c := range s {
		if c == '.' {
			if dot >= 0 {
				return token{}, false
			}
			dot = i
			continue
		}
		if !isDigit(c) {
			return token{}, false
		}
	}
	if dot < 0 {
		var v int64
		overflow := false
		for _, c := range s {
			d := int64(c - '0')
			if v > (1<<63-1-d)/10 {
				overflow = true
				break
			}
			v = v*10 + d
		}
		if !overflow {
			if neg {
				v = -v
			}
			return token{kind: tInt, pos: pos, i: v}, true
		}
	} else if len(s) == 1 {
		return token{}, false // just "."
	}
	// Real (or an integer too large for int64, kept as a real).
	txt := string(s)
	if neg {
		txt = "-" + txt
	}
	f, err := strconv.ParseFloat(txt, 64)
	if err != nil || f != f {
		f = 0 // out of range: keep the text, use a finite value
	}
	return token{kind: tReal, pos: pos, text: txt, f: f}, true
}

func (l *lexer) lexName(start int64) (token, error) {
	l.scratch = l.scratch[:0]
	for {
		c, ok := l.peek()
		if !ok || !isRegular(c) {
			break
		}
		l.pos++
		if c == '#' {
			// #xx escape; an invalid escape is kept literally.
			h1, ok1 := l.peek()
			if ok1 && unhex(h1) >= 0 {
				save := l.pos
				l.pos++
				h2, ok2 := l.peek()
				if ok2 && unhex(h2) >= 0 {
					l.pos++
					c = byte(unhex(h1)<<4 | unhex(h2))
				} else {
					l.pos = save
				}
			}
		}
		if !l.addScratch(c) {
			return token{}, limitErr("name length", int64(l.maxTok))
		}
	}
	if l.err != nil {
		return token{}, l.err
	}
	return token{kind: tName, pos: start, text: string(l.scratch)}, nil
}

func unhex(c byte) int { return int(hexValues[c]) }

// hexValues maps a byte to its hex digit value, -1 for a non-digit.
var hexValues = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c-'a') + 10
		t[c-'a'+'A'] = int8(c-'a') + 10
	}
	return t
}()

func (l *lexer) lexString(start int64) (token, error) {
	l.scratch = l.scratch[:0]
	depth := 1
	for {
		c, ok := l.next()
		if !ok {
			if l.err != nil {
				return token{}, l.err
			}
			l.pos = start
			return token{}, l.errorf("unterminated literal string")
		}
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return token{kind: tString, pos: start, b: bytes.Clone(l.scratch)}, nil
			}
		case '\r':
			// An unescaped EOL (CR or CR LF) is read as LF.
			if c2, ok := l.peek(); ok && c2 == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			e, ok := l.next()
			if !ok {
				continue // reported as unterminated on the next round
			}
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '(', ')', '\\':
				c = e
			case '\r':
				if c2, ok := l.peek(); ok && c2 == '\n' {
					l.pos++
				}
				continue // line continuation
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2; k++ {
						d, ok := l.peek()
						if !ok || d < '0' || d > '7' {
							break
						}
						l.pos++
						v = v*8 + int(d-'0')
					}
					c = byte(v) // high-order overflow is ignored (7.3.4.2)
				} else {
					c = e // unknown escape: the backslash is ignored
				}
			}
		}
		if !l.addScratch(c) {
			return token{}, limitErr("string length", int64(l.maxTok))
		}
	}
}

func (l *lexer) lexHex(start int64) (token, error) {
	l.scratch = l.scratch[:0]
	hi := -1
	for {
		if hi < 0 {
			// Fast path: the pairs of hex digits already buffered.
			if i := l.pos - l.base; i >= 0 && i < int64(len(l.buf)) {
				j, buf := i, l.buf
				if len(l.scratch) == 0 {
					// Size the result once when the string ends in the buffer.
					if e := bytes.IndexByte(buf[i:], '>'); e > 64 && e/2 <= l.maxTok {
						l.scratch = slices.Grow(l.scratch, e/2+1)
					}
				}
				for j+1 < int64(len(buf)) {
					a, b := unhex(buf[j]), unhex(buf[j+1])
					if a < 0 || b < 0 {
						break
					}
					if len(l.scratch) >= l.maxTok {
						return token{}, limitErr("string length", int64(l.maxTok))
					}
					l.scratch = append(l.scratch, byte(a<<4|b))
					j += 2
				}
				l.pos += j - i
			}
		}
		c, ok := l.next()
		if !ok {
			if l.err != nil {
				return token{}, l.err
			}
			l.pos = start
			return token{}, l.errorf("unterminated hex string")
		}
		if c == '>' {
			if hi >= 0 {
				if !l.addScratch(byte(hi << 4)) {
					return token{}, limitErr("string length", int64(l.maxTok))
				}
			}
			if cap(l.scratch) > 256 { // hand a large result over instead of copying it
				b := l.scratch
				l.scratch = nil
				return token{kind: tHexString, pos: start, b: b}, nil
			}
			return token{kind: tHexString, pos: start, b: bytes.Clone(l.scratch)}, nil
		}
		if isSpace(c) {
			continue
		}
		v := unhex(c)
		if v < 0 {
			l.pos--
			return token{}, l.errorf("invalid character %q in hex string", c)
		}
		if hi < 0 {
			hi = v
			continue
		}
		if !l.addScratch(byte(hi<<4 | v)) {
			return token{}, limitErr("string length", int64(l.maxTok))
		}
		hi = -1
	}
}

// find returns the offset of the first occurrence of pat in [from, limit),
// or -1. It reads through the block cache.
func (l *lexer) find(pat []byte, from, limit int64) int64 {
	if limit > l.end {
		limit = l.end
	}
	if l.src == nil {
		if from < 0 || from >= limit {
			return -1
		}
		i := bytes.Index(l.buf[from:limit], pat)
		if i < 0 {
			return -1
		}
		return from + int64(i)
	}
	if from < 0 || from >= limit {
		return -1
	}
	// What is looked for is usually near: read 4 KiB, then chunks
	// doubling up to 64 KiB (overlapping by len(pat)-1 bytes).
	bp := findBufs.Get().(*[]byte)
	defer findBufs.Put(bp)
	buf := *bp
	chunk := int64(4 << 10)
	for off := from; off < limit; {
		n := min(chunk+int64(len(pat))-1, limit-off, int64(len(buf)))
		got, err := l.src.readAt(buf[:n], off)
		if err != nil {
			l.err = err
			return -1
		}
		if i := bytes.Index(buf[:got], pat); i >= 0 {
			return off + int64(i)
		}
		step := n - int64(len(pat)) + 1
		if int64(got) < n || off+n >= limit || step <= 0 {
			return -1
		}
		off += step
		chunk = min(2*chunk, 64<<10)
	}
	return -1
}

// findBufs holds find's read buffers (64 KiB plus room for a pattern).
var findBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10+256); return &b }}

// hasPrefixAt reports whether the input at pos starts with pat.
func (l *lexer) hasPrefixAt(pos int64, pat string) bool {
	save := l.pos
	defer func() { l.pos = save }()
	l.pos = pos
	for i := 0; i < len(pat); i++ {
		c, ok := l.next()
		if !ok || c != pat[i] {
			return false
		}
	}
	return true
}

// xrefEntry20 parses a well-formed 20-byte classic xref entry
// ("oooooooooo ggggg n" + 2-byte EOL) at the current position if it lies in
// the current buffer, and advances past it and any further white space.
func (l *lexer) xrefEntry20() (off int64, gen uint16, typ byte, ok bool) {
	l.skipSpace()
	if _, ok := l.peek(); !ok {
		return 0, 0, 0, false
	}
	i := l.pos - l.base
	if i < 0 || i+20 > int64(len(l.buf)) {
		return 0, 0, 0, false
	}
	e := l.buf[i : i+20]
	for _, c := range e[:10] {
		if !isDigit(c) {
			return 0, 0, 0, false
		}
		off = off*10 + int64(c-'0')
	}
	if e[10] != ' ' || e[16] != ' ' || (e[17] != 'n' && e[17] != 'f') {
		return 0, 0, 0, false
	}
	var g int
	for _, c := range e[11:16] {
		if !isDigit(c) {
			return 0, 0, 0, false
		}
		g = g*10 + int(c-'0')
	}
	if g > 65535 {
		return 0, 0, 0, false
	}
	switch string(e[18:20]) {
	case " \n", " \r", "\r\n":
	default:
		return 0, 0, 0, false
	}
	l.pos += 20
	l.skipSpace()
	return off, uint16(g), e[17], true
}

func (l *lexer) cachedEndstream(pos int64) (int64, bool) {
	if l.src == nil {
		return 0, false
	}
	return l.src.cachedEndstream(pos)
}

func (l *lexer) storeEndstream(from, at int64) {
	if l.src != nil {
		l.src.storeEndstream(from, at)
	}
}
