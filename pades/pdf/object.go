package pdf

import (
	"fmt"
	"math"
	"strconv"
)

// Object is a PDF object. The concrete types are Null, Bool, Integer, Real,
// Name, String, Array, *Dict, Ref, *Stream and Placeholder (the last one only
// in objects handed to the writer). The interface is sealed.
type Object interface {
	isObject()
}

// Null is the PDF null object. A missing dictionary key and a reference to a
// free or undefined object also resolve to Null.
type Null struct{}

// Bool is a PDF boolean.
type Bool bool

// Integer is a PDF integer. PDF integers have no defined range; values that do
// not fit in an int64 are kept as Real so their text survives.
type Integer int64

// Real is a PDF real number. It keeps the text it was parsed from, so that
// re-serialising an object never changes how a number is written.
type Real struct {
	text string
	val  float64
}

// NewReal returns a Real for f, written in the shortest decimal form without
// an exponent (PDF has no exponent syntax). NaN and infinities become 0.
func NewReal(f float64) Real {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !containsByte(s, '.') {
		s += ".0" // keep it a real when written back
	}
	return Real{text: s, val: f}
}

// Float returns the value of r.
func (r Real) Float() float64 { return r.val }

// String returns the PDF text of r.
func (r Real) String() string {
	if r.text == "" {
		return "0.0"
	}
	return r.text
}

// Name is a PDF name, without the leading slash and with #xx escapes decoded.
type Name string

// String is a PDF string: raw bytes, plus whether the source wrote it in hex
// (<...>) rather than literal ((...)) form. The writer keeps that form.
type String struct {
	Value []byte
	Hex   bool
}

// Text returns the string bytes as a Go string (no text-encoding conversion).
func (s String) Text() string { return string(s.Value) }

// Array is a PDF array.
type Array []Object

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num uint32
	Gen uint16
}

// String returns "Num Gen R".
func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// IsZero reports whether r is the zero Ref (object 0 is never a valid object).
func (r Ref) IsZero() bool { return r.Num == 0 }

func (Null) isObject()        {}
func (Bool) isObject()        {}
func (Integer) isObject()     {}
func (Real) isObject()        {}
func (Name) isObject()        {}
func (String) isObject()      {}
func (Array) isObject()       {}
func (*Dict) isObject()       {}
func (Ref) isObject()         {}
func (*Stream) isObject()     {}
func (Placeholder) isObject() {}

// DictEntry is one key/value pair of a Dict.
type DictEntry struct {
	Key   Name
	Value Object
}

// Dict is a PDF dictionary that keeps its keys in insertion (source) order,
// so that serialisation is stable. The zero value is an empty dictionary.
// Setting a key that exists replaces its value in place.
type Dict struct {
	entries []DictEntry
	index   map[Name]int // built lazily for large dictionaries
}

const dictIndexThreshold = 12

// NewDict returns a dictionary holding the given pairs in order.
func NewDict(entries ...DictEntry) *Dict {
	d := &Dict{}
	for _, e := range entries {
		d.Set(e.Key, e.Value)
	}
	return d
}

func (d *Dict) find(k Name) int {
	if d == nil {
		return -1
	}
	if d.index != nil {
		if i, ok := d.index[k]; ok {
			return i
		}
		return -1
	}
	for i := range d.entries {
		if d.entries[i].Key == k {
			return i
		}
	}
	return -1
}

// Get returns the value of k, or nil when k is absent. The value is not
// resolved: it may be a Ref.
func (d *Dict) Get(k Name) Object {
	if i := d.find(k); i >= 0 {
		return d.entries[i].Value
	}
	return nil
}

// Has reports whether k is present.
func (d *Dict) Has(k Name) bool { return d.find(k) >= 0 }

// Set sets k to v. A nil v deletes k.
func (d *Dict) Set(k Name, v Object) {
	if v == nil {
		d.Delete(k)
		return
	}
	if i := d.find(k); i >= 0 {
		d.entries[i].Value = v
		return
	}
	d.entries = append(d.entries, DictEntry{k, v})
	if d.index != nil {
		d.index[k] = len(d.entries) - 1
	} else if len(d.entries) > dictIndexThreshold {
		d.buildIndex()
	}
}

func (d *Dict) buildIndex() {
	d.index = make(map[Name]int, len(d.entries))
	for i, e := range d.entries {
		d.index[e.Key] = i
	}
}

// Delete removes k.
func (d *Dict) Delete(k Name) {
	i := d.find(k)
	if i < 0 {
		return
	}
	d.entries = append(d.entries[:i], d.entries[i+1:]...)
	if d.index != nil {
		d.buildIndex()
	}
}

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.entries)
}

// Keys returns the keys in order.
func (d *Dict) Keys() []Name {
	if d == nil {
		return nil
	}
	ks := make([]Name, len(d.entries))
	for i, e := range d.entries {
		ks[i] = e.Key
	}
	return ks
}

// Entries returns the entries in order. The slice must not be modified.
func (d *Dict) Entries() []DictEntry {
	if d == nil {
		return nil
	}
	return d.entries
}

// Clone returns a shallow copy of d: a new Dict with the same values.
func (d *Dict) Clone() *Dict {
	n := &Dict{}
	if d == nil {
		return n
	}
	n.entries = append([]DictEntry(nil), d.entries...)
	if len(n.entries) > dictIndexThreshold {
		n.buildIndex()
	}
	return n
}

// Name returns the value of k if it is a direct Name.
func (d *Dict) Name(k Name) (Name, bool) {
	n, ok := d.Get(k).(Name)
	return n, ok
}

// Int returns the value of k if it is a direct Integer.
func (d *Dict) Int(k Name) (int64, bool) {
	n, ok := d.Get(k).(Integer)
	return int64(n), ok
}

// Stream is a PDF stream: its dictionary and where its raw (still encoded)
// data lies in the source file. The data is read on demand through the Reader
// (Reader.StreamData, Reader.StreamReader, Reader.RawStreamReader).
//
// Streams built for the writer with NewStream carry their decoded data in
// memory instead; Offset is then -1.
type Stream struct {
	Dict   *Dict
	Offset int64 // absolute offset of the first data byte in the source; -1 if in memory
	Length int64 // length of the raw data in the source

	data []byte // decoded data of a stream built by NewStream

	// Set by the reader for a stream of an encrypted file: its data is
	// encrypted with the key of object cryptRef.
	cryptRef  Ref
	encrypted bool
}

// NewStream returns a stream to be written by an Update: dict holds the
// stream's keys (without /Length, which the writer sets) and data its decoded
// content. If dict has a /Filter, data must already be encoded accordingly.
func NewStream(dict *Dict, data []byte) *Stream {
	if dict == nil {
		dict = &Dict{}
	}
	return &Stream{Dict: dict, Offset: -1, Length: int64(len(data)), data: data}
}

// InMemory reports whether s carries its data in memory (built by NewStream).
func (s *Stream) InMemory() bool { return s.Offset < 0 }

// PlaceholderKind says what a Placeholder stands for.
type PlaceholderKind int

const (
	// PlaceholderContents is a hex string of Size zero bytes, written as
	// "<" + 2*Size '0' characters + ">": the /Contents of a signature.
	PlaceholderContents PlaceholderKind = iota + 1
	// PlaceholderByteRange is a fixed-width array with room for four
	// non-negative int64 values: the /ByteRange of a signature. It is
	// written as "[0 0 0 0" padded with spaces to ByteRangeWidth bytes.
	PlaceholderByteRange
)

// ByteRangeWidth is the width in bytes of a written PlaceholderByteRange:
// "[" + four 19-digit numbers + three spaces + "]".
const ByteRangeWidth = 1 + 4*19 + 3 + 1

// Placeholder is an object the writer serialises with a fixed width and whose
// absolute byte offsets it reports back (Result.Placeholders), so that a
// signer can patch the bytes in place after hashing.
type Placeholder struct {
	Kind PlaceholderKind
	Size int // PlaceholderContents: the number of bytes the hex string can hold
}

// Width returns the number of bytes the placeholder takes in the output.
func (p Placeholder) Width() int {
	switch p.Kind {
	case PlaceholderContents:
		return 2*p.Size + 2
	case PlaceholderByteRange:
		return ByteRangeWidth
	}
	return 0
}

// FormatByteRange returns the exact ByteRangeWidth bytes that replace a
// PlaceholderByteRange: "[a b c d" padded with spaces, then "]". Values must
// be non-negative.
func FormatByteRange(br [4]int64) ([]byte, error) {
	b := make([]byte, 0, ByteRangeWidth)
	b = append(b, '[')
	for i, v := range br {
		if v < 0 {
			return nil, fmt.Errorf("pdf: byte range value %d is negative", v)
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	for len(b) < ByteRangeWidth-1 {
		b = append(b, ' ')
	}
	return append(b, ']'), nil
}

// FormatContents returns the exact bytes that replace a PlaceholderContents
// of the given size: data hex-encoded, right-padded with '0' digits. It fails
// if data is longer than size.
func FormatContents(data []byte, size int) ([]byte, error) {
	if len(data) > size {
		return nil, fmt.Errorf("pdf: %d bytes do not fit a /Contents placeholder of %d bytes: %w", len(data), size, ErrPlaceholderTooSmall)
	}
	b := make([]byte, 2*size+2)
	b[0] = '<'
	const hexd = "0123456789abcdef"
	for i, c := range data {
		b[1+2*i] = hexd[c>>4]
		b[2+2*i] = hexd[c&15]
	}
	for i := 1 + 2*len(data); i < len(b)-1; i++ {
		b[i] = '0'
	}
	b[len(b)-1] = '>'
	return b, nil
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// Int returns o as an int64 if it is an Integer (or a Real with an integral
// value, as some writers produce).
func Int(o Object) (int64, bool) {
	switch v := o.(type) {
	case Integer:
		return int64(v), true
	case Real:
		f := v.Float()
		if f == math.Trunc(f) && f >= -1<<62 && f <= 1<<62 {
			return int64(f), true
		}
	}
	return 0, false
}

// Number returns o as a float64 if it is an Integer or a Real.
func Number(o Object) (float64, bool) {
	switch v := o.(type) {
	case Integer:
		return float64(v), true
	case Real:
		return v.Float(), true
	}
	return 0, false
}
