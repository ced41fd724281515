package pdf

import (
	"fmt"
	"strconv"
)

// Marshal returns the PDF syntax of o. Streams cannot be marshalled this
// way (they are indirect objects; the Update writer handles them), except
// at the top level where the stream's dictionary is written.
func Marshal(o Object) ([]byte, error) {
	var e encoder
	if s, ok := o.(*Stream); ok {
		o = s.Dict
	}
	if err := e.obj(o, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// AppendObject appends the PDF syntax of o to dst.
func AppendObject(dst []byte, o Object) ([]byte, error) {
	e := encoder{buf: dst}
	if err := e.obj(o, 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// placeholderAt records where the encoder wrote a placeholder.
type placeholderAt struct {
	kind PlaceholderKind
	pos  int // offset in encoder.buf
	w    int
}

type encoder struct {
	buf []byte
	ph  []placeholderAt
}

const maxMarshalDepth = 1000

func (e *encoder) obj(o Object, depth int) error {
	if depth > maxMarshalDepth {
		return fmt.Errorf("%w: object nesting deeper than %d", ErrLimit, maxMarshalDepth)
	}
	switch v := o.(type) {
	case nil:
		return fmt.Errorf("pdf: cannot marshal a nil object")
	case Null:
		e.buf = append(e.buf, "null"...)
	case Bool:
		if v {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case Integer:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case Real:
		e.buf = append(e.buf, v.String()...)
	case Name:
		e.name(v)
	case String:
		if v.Hex {
			e.hexString(v.Value)
		} else {
			e.literal(v.Value)
		}
	case Ref:
		e.buf = strconv.AppendUint(e.buf, uint64(v.Num), 10)
		e.buf = append(e.buf, ' ')
		e.buf = strconv.AppendUint(e.buf, uint64(v.Gen), 10)
		e.buf = append(e.buf, " R"...)
	case Array:
		e.buf = append(e.buf, '[')
		for i, x := range v {
			if i > 0 {
				e.buf = append(e.buf, ' ')
			}
			if err := e.obj(x, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case *Dict:
		e.buf = append(e.buf, "<<"...)
		for i, kv := range v.Entries() {
			if i > 0 {
				e.buf = append(e.buf, ' ')
			}
			e.name(kv.Key)
			e.buf = append(e.buf, ' ')
			if err := e.obj(kv.Value, depth+1); err != nil {
				return fmt.Errorf("/%s: %w", kv.Key, err)
			}
		}
		e.buf = append(e.buf, ">>"...)
	case *Stream:
		return fmt.Errorf("pdf: a stream must be an indirect object, not nested in another object")
	case Placeholder:
		return e.placeholder(v)
	default:
		return fmt.Errorf("pdf: cannot marshal %T", o)
	}
	return nil
}

func (e *encoder) placeholder(p Placeholder) error {
	start := len(e.buf)
	switch p.Kind {
	case PlaceholderContents:
		if p.Size <= 0 || p.Size > 64<<20 {
			return fmt.Errorf("pdf: /Contents placeholder size %d out of range", p.Size)
		}
		e.buf = append(e.buf, '<')
		for i := 0; i < 2*p.Size; i++ {
			e.buf = append(e.buf, '0')
		}
		e.buf = append(e.buf, '>')
	case PlaceholderByteRange:
		e.buf = append(e.buf, "[0 0 0 0"...)
		for len(e.buf)-start < ByteRangeWidth-1 {
			e.buf = append(e.buf, ' ')
		}
		e.buf = append(e.buf, ']')
	default:
		return fmt.Errorf("pdf: unknown placeholder kind %d", p.Kind)
	}
	e.ph = append(e.ph, placeholderAt{kind: p.Kind, pos: start, w: len(e.buf) - start})
	return nil
}

// name writes /Name, escaping with #xx every byte outside '!'..'~', the
// delimiters and '#'.
func (e *encoder) name(n Name) {
	const hexd = "0123456789ABCDEF"
	e.buf = append(e.buf, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || c == '#' || charClass[c] == clsDelim {
			e.buf = append(e.buf, '#', hexd[c>>4], hexd[c&15])
			continue
		}
		e.buf = append(e.buf, c)
	}
}

func (e *encoder) literal(s []byte) {
	e.buf = append(e.buf, '(')
	for _, c := range s {
		switch c {
		case '(', ')', '\\':
			e.buf = append(e.buf, '\\', c)
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
		case '\t':
			e.buf = append(e.buf, '\\', 't')
		case '\b':
			e.buf = append(e.buf, '\\', 'b')
		case '\f':
			e.buf = append(e.buf, '\\', 'f')
		default:
			if c < 0x20 || c == 0x7f {
				e.buf = append(e.buf, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
			} else {
				e.buf = append(e.buf, c)
			}
		}
	}
	e.buf = append(e.buf, ')')
}

func (e *encoder) hexString(s []byte) {
	const hexd = "0123456789ABCDEF"
	e.buf = append(e.buf, '<')
	for _, c := range s {
		e.buf = append(e.buf, hexd[c>>4], hexd[c&15])
	}
	e.buf = append(e.buf, '>')
}
