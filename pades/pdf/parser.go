package pdf

import "fmt"

// parser builds objects from lexer tokens. It needs no token push-back: a
// look-ahead that does not pan out just seeks the lexer back.
type parser struct {
	lx       *lexer
	maxDepth int
	where    string       // context for error messages
	defect   func(string) // records tolerated defects; may be nil
}

func (p *parser) note(format string, args ...any) {
	if p.defect != nil {
		p.defect(fmt.Sprintf(format, args...))
	}
}

func (p *parser) syntaxErr(off int64, format string, args ...any) error {
	if p.lx.err != nil {
		return p.lx.err
	}
	return &SyntaxError{Offset: off, Where: p.where, Msg: fmt.Sprintf(format, args...)}
}

// parseObject reads one direct object (a Ref counts as direct here).
func (p *parser) parseObject(depth int) (Object, error) {
	t, err := p.lx.token()
	if err != nil {
		return nil, err
	}
	return p.parseObjectTok(t, depth)
}

func (p *parser) parseObjectTok(t token, depth int) (Object, error) {
	switch t.kind {
	case tInt:
		// "N G R"?
		if t.i >= 0 && t.i <= 1<<32-1 {
			after := p.lx.pos
			t2, err2 := p.lx.token()
			if err2 == nil && t2.kind == tInt && t2.i >= 0 && t2.i <= 65535 {
				t3, err3 := p.lx.token()
				if err3 == nil && t3.kind == tKeyword && t3.kw == kwR {
					return Ref{Num: uint32(t.i), Gen: uint16(t2.i)}, nil
				}
			}
			p.lx.err = nil // a failed look-ahead is not an error yet
			p.lx.seek(after)
		}
		return Integer(t.i), nil
	case tReal:
		return Real{text: t.text, val: t.f}, nil
	case tName:
		return Name(t.text), nil
	case tString:
		return String{Value: t.b}, nil
	case tHexString:
		return String{Value: t.b, Hex: true}, nil
	case tArrayOpen:
		if depth >= p.maxDepth {
			return nil, limitErr("nesting depth of arrays and dictionaries", int64(p.maxDepth))
		}
		arr := Array{}
		for {
			t, err := p.lx.token()
			if err != nil {
				return nil, err
			}
			if t.kind == tArrayClose {
				return arr, nil
			}
			if t.kind == tEOF {
				return nil, p.syntaxErr(t.pos, "unterminated array")
			}
			o, err := p.parseObjectTok(t, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, o)
		}
	case tDictOpen:
		if depth >= p.maxDepth {
			return nil, limitErr("nesting depth of arrays and dictionaries", int64(p.maxDepth))
		}
		d := &Dict{}
		for {
			t, err := p.lx.token()
			if err != nil {
				return nil, err
			}
			if t.kind == tDictClose {
				return d, nil
			}
			if t.kind == tEOF {
				return nil, p.syntaxErr(t.pos, "unterminated dictionary")
			}
			if t.kind != tName {
				return nil, p.syntaxErr(t.pos, "dictionary key is not a name")
			}
			vt, err := p.lx.token()
			if err != nil {
				return nil, err
			}
			if vt.kind == tDictClose {
				// "/Key >>": a key without value; treat as null.
				p.note("offset %d: dictionary key /%s without a value", t.pos, t.text)
				d.Set(Name(t.text), Null{})
				return d, nil
			}
			v, err := p.parseObjectTok(vt, depth+1)
			if err != nil {
				return nil, err
			}
			d.Set(Name(t.text), v)
		}
	case tKeyword:
		switch t.kw {
		case kwTrue:
			return Bool(true), nil
		case kwFalse:
			return Bool(false), nil
		case kwNull:
			return Null{}, nil
		}
		name := t.text
		if t.kw != kwOther {
			for k, v := range keywords {
				if v == t.kw {
					name = k
				}
			}
		}
		return nil, p.syntaxErr(t.pos, "unexpected keyword %q", name)
	case tEOF:
		return nil, p.syntaxErr(t.pos, "unexpected end of input")
	}
	return nil, p.syntaxErr(t.pos, "unexpected token")
}

// parseIndirect parses "N G obj <object> endobj" at the lexer position. For a
// stream it returns a *Stream whose data location is known; lengthOf resolves
// an indirect /Length (nil: an indirect /Length is located by endstream).
func (p *parser) parseIndirect(lengthOf func(Object) (int64, bool)) (Ref, Object, error) {
	start := p.lx.pos
	t1, err := p.lx.token()
	if err != nil {
		return Ref{}, nil, err
	}
	t2, err := p.lx.token()
	if err != nil {
		return Ref{}, nil, err
	}
	t3, err := p.lx.token()
	if err != nil {
		return Ref{}, nil, err
	}
	if t1.kind != tInt || t2.kind != tInt || t3.kind != tKeyword || t3.kw != kwObj ||
		t1.i < 0 || t1.i > 1<<32-1 || t2.i < 0 || t2.i > 65535 {
		return Ref{}, nil, p.syntaxErr(start, "expected \"N G obj\"")
	}
	ref := Ref{Num: uint32(t1.i), Gen: uint16(t2.i)}
	obj, err := p.parseObject(0)
	if err != nil {
		return ref, nil, err
	}
	after := p.lx.pos
	t, err := p.lx.token()
	if err != nil {
		return ref, obj, nil // missing endobj at end of input: tolerated
	}
	if t.kind == tKeyword && t.kw == kwStream {
		d, ok := obj.(*Dict)
		if !ok {
			return ref, nil, p.syntaxErr(t.pos, "stream keyword after a non-dictionary")
		}
		s, err := p.parseStreamBody(d, t.pos+6, lengthOf)
		if err != nil {
			return ref, nil, err
		}
		obj = s
		after = p.lx.pos
		t, err = p.lx.token()
		if err != nil {
			return ref, obj, nil
		}
	}
	if t.kind != tKeyword || t.kw != kwEndobj {
		p.note("object %d %d at offset %d: missing endobj", ref.Num, ref.Gen, start)
		p.lx.seek(after)
	}
	return ref, obj, nil
}

// parseStreamBody locates the data of a stream whose "stream" keyword ends at
// pos, and leaves the lexer after "endstream".
func (p *parser) parseStreamBody(d *Dict, pos int64, lengthOf func(Object) (int64, bool)) (*Stream, error) {
	lx := p.lx
	lx.seek(pos)
	for {
		c, ok := lx.peek()
		if !ok || (c != ' ' && c != '\t') {
			break
		}
		lx.pos++
	}
	c, _ := lx.peek()
	if c == '\r' {
		lx.pos++
		if c2, ok := lx.peek(); ok && c2 == '\n' {
			lx.pos++
		} else {
			p.note("offset %d: stream keyword followed by CR alone", pos)
		}
	} else if c == '\n' {
		lx.pos++
	} else {
		p.note("offset %d: stream keyword not followed by an end-of-line", pos)
	}
	dataStart := lx.pos
	if lx.err != nil {
		return nil, lx.err
	}

	length := int64(-1)
	switch lv := d.Get("Length").(type) {
	case Integer:
		length = int64(lv)
	case Ref:
		if lengthOf != nil {
			if n, ok := lengthOf(lv); ok {
				length = n
			}
		}
	}
	if length >= 0 && length <= lx.end-dataStart {
		lx.seek(dataStart + length)
		lx.skipSpace()
		if lx.hasPrefixAt(lx.pos, "endstream") {
			lx.seek(lx.pos + 9)
			return &Stream{Dict: d, Offset: dataStart, Length: length}, nil
		}
	}
	lx.err = nil
	var e int64
	if c, ok := lx.cachedEndstream(dataStart); ok {
		e = c
	} else {
		e = lx.find([]byte("endstream"), dataStart, lx.end)
		if lx.err == nil {
			lx.storeEndstream(dataStart, e)
		}
	}
	if e < 0 {
		return nil, p.syntaxErr(dataStart, "stream without endstream")
	}
	end := e
	if end > dataStart {
		if b, ok := byteAt(lx, end-1); ok && b == '\n' {
			end--
			if b, ok := byteAt(lx, end-1); ok && b == '\r' && end > dataStart {
				end--
			}
		} else if ok && b == '\r' {
			end--
		}
	}
	if length >= 0 || d.Get("Length") == nil {
		p.note("stream at offset %d: /Length %v is wrong, data ends at endstream (%d bytes)", dataStart, d.Get("Length"), end-dataStart)
	}
	lx.seek(e + 9)
	return &Stream{Dict: d, Offset: dataStart, Length: end - dataStart}, nil
}

func byteAt(lx *lexer, pos int64) (byte, bool) {
	save := lx.pos
	lx.seek(pos)
	c, ok := lx.peek()
	lx.seek(save)
	return c, ok
}
