package pdf

import (
	"errors"
	"strings"
	"testing"
)

func parseString(s string) (Object, error) {
	p := &parser{lx: newMemLexer([]byte(s), 1<<20), maxDepth: 64}
	return p.parseObject(0)
}

func TestParseMarshal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"null", "null"},
		{"true", "true"},
		{" false ", "false"},
		{"42", "42"},
		{"-17", "-17"},
		{"+5", "5"},
		{"--5", "-5"},
		{"1.50", "1.50"}, // text kept
		{"4.", "4."},
		{"-.5", "-.5"},
		{"99999999999999999999", "99999999999999999999"}, // too big for int64: kept as text
		{"/Name", "/Name"},
		{"/A#20B", "/A#20B"},
		{"/a#2", "/a#232"}, // invalid escape kept literally, then escaped on output
		{"/", "/"},
		{"(abc)", "(abc)"},
		{"(a(b)c)", `(a\(b\)c)`},
		{`(\101\60x\0)`, `(A0x\000)`},
		{"(a\\\r\nb)", "(ab)"},       // line continuation
		{"(a\r\nb\rc)", `(a\nb\nc)`}, // EOLs read as LF
		{`(\q)`, "(q)"},
		{"<48656c6C6f>", "<48656C6C6F>"},
		{"<4 8 6>", "<4860>"}, // white space skipped, odd digit padded
		{"<>", "<>"},
		{"[1 2 R 3]", "[1 2 R 3]"},
		{"[1 2 3 R]", "[1 2 3 R]"},
		{"[1 0 R 2 0 R]", "[1 0 R 2 0 R]"},
		{"[ ]", "[]"},
		{"<< /A 1 /B [/C << /D (x) >>] /E 3 0 R >>", "<</A 1 /B [/C <</D (x)>>] /E 3 0 R>>"},
		{"<</A 1 %comment\n/B 2>>", "<</A 1 /B 2>>"},
		{"<</A 1 /A 2>>", "<</A 2>>"}, // duplicate key: last wins
		{"<</A>>", "<</A null>>"},
		{"[1 0]", "[1 0]"},
	}
	for _, tt := range tests {
		o, err := parseString(tt.in)
		if err != nil {
			t.Errorf("parse %q: %v", tt.in, err)
			continue
		}
		b, err := Marshal(o)
		if err != nil {
			t.Errorf("marshal %q: %v", tt.in, err)
			continue
		}
		if string(b) != tt.want {
			t.Errorf("%q -> %q, want %q", tt.in, b, tt.want)
		}
		// Re-parsing the output gives the same output again.
		o2, err := parseString(string(b))
		if err != nil {
			t.Errorf("reparse %q: %v", b, err)
			continue
		}
		b2, _ := Marshal(o2)
		if string(b2) != string(b) {
			t.Errorf("not stable: %q -> %q", b, b2)
		}
	}
}

func TestParseTypes(t *testing.T) {
	o, _ := parseString("[1 2.0 3 0 R (s) <68> /N]")
	a := o.(Array)
	if _, ok := a[0].(Integer); !ok {
		t.Errorf("1 is %T", a[0])
	}
	if r, ok := a[1].(Real); !ok || r.Float() != 2 || r.String() != "2.0" {
		t.Errorf("2.0 is %#v", a[1])
	}
	if a[2] != (Ref{Num: 3}) {
		t.Errorf("3 0 R is %#v", a[2])
	}
	if s := a[3].(String); s.Hex || s.Text() != "s" {
		t.Errorf("(s) is %#v", a[3])
	}
	if s := a[4].(String); !s.Hex || s.Text() != "h" {
		t.Errorf("<68> is %#v", a[4])
	}
	if n := NewReal(3); n.String() != "3.0" {
		t.Errorf("NewReal(3) = %s", n)
	}
	if n := NewReal(0.1); n.String() != "0.1" {
		t.Errorf("NewReal(0.1) = %s", n)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", "(abc", "<abc", "<ax>", "[1 2", "<</A 1", "<<1 2>>", ")", ">", "endobj", "]", "{", "<</A ]>>", "[4294967296 0 R]",
	} {
		if o, err := parseString(in); err == nil {
			t.Errorf("parse %q: no error, got %#v", in, o)
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("parse %q: error %v is not ErrSyntax", in, err)
		}
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := parseString(deep); !errors.Is(err, ErrLimit) {
		t.Errorf("depth bomb: %v", err)
	}
	p := &parser{lx: newMemLexer([]byte("("+strings.Repeat("x", 100)+")"), 50), maxDepth: 8}
	if _, err := p.parseObject(0); !errors.Is(err, ErrLimit) {
		t.Errorf("long string: %v", err)
	}
}

func TestDict(t *testing.T) {
	d := &Dict{}
	for i := 0; i < 30; i++ { // crosses the index threshold
		d.Set(Name(strings.Repeat("k", i+1)), Integer(i))
	}
	d.Set("kkk", Integer(100))
	if v, _ := d.Int("kkk"); v != 100 || d.Len() != 30 {
		t.Errorf("replace: %v, len %d", d.Get("kkk"), d.Len())
	}
	d.Delete("k")
	if d.Has("k") || d.Len() != 29 || d.Keys()[0] != "kk" {
		t.Errorf("delete: %v", d.Keys()[:3])
	}
	if v, _ := d.Int("kkkkk"); v != 4 {
		t.Errorf("lookup after delete: %v", d.Get("kkkkk"))
	}
	d.Set("kk", nil)
	if d.Has("kk") {
		t.Error("Set(nil) did not delete")
	}
	c := d.Clone()
	c.Set("new", Bool(true))
	if d.Has("new") {
		t.Error("Clone shares entries")
	}
	var nd *Dict
	if nd.Get("x") != nil || nd.Len() != 0 || nd.Keys() != nil {
		t.Error("nil dict")
	}
}

func TestFormatPlaceholders(t *testing.T) {
	b, err := FormatByteRange([4]int64{0, 1<<63 - 1, 1<<63 - 1, 1<<63 - 1})
	if err != nil || len(b) != ByteRangeWidth {
		t.Errorf("max int64 values: %v, %d bytes", err, len(b))
	}
	b, _ = FormatByteRange([4]int64{0, 10, 20, 30})
	if !strings.HasPrefix(string(b), "[0 10 20 30 ") || b[len(b)-1] != ']' || len(b) != ByteRangeWidth {
		t.Errorf("%q", b)
	}
	if _, err := FormatByteRange([4]int64{0, -1, 0, 0}); err == nil {
		t.Error("negative value accepted")
	}
	c, err := FormatContents([]byte{0xab, 0x01}, 4)
	if err != nil || string(c) != "<ab010000>" {
		t.Errorf("%q %v", c, err)
	}
	if _, err := FormatContents(make([]byte, 5), 4); !errors.Is(err, ErrPlaceholderTooSmall) {
		t.Errorf("overflow: %v", err)
	}
	m, _ := Marshal(NewDict(DictEntry{"ByteRange", Placeholder{Kind: PlaceholderByteRange}}, DictEntry{"Contents", Placeholder{Kind: PlaceholderContents, Size: 3}}))
	if want := "<</ByteRange [0 0 0 0" + strings.Repeat(" ", ByteRangeWidth-9) + "] /Contents <000000>>>"; string(m) != want {
		t.Errorf("%q\nwant %q", m, want)
	}
	if _, err := Marshal(Array{NewStream(nil, nil)}); err == nil {
		t.Error("nested stream marshalled")
	}
}
