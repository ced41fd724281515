package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Limits bound the resources a hostile file can make the reader use. Zero
// fields take the defaults (DefaultLimits).
type Limits struct {
	MaxObjects        int64 // highest object number + 1 (default 8,388,608, the PDF 1.7 implementation limit)
	MaxDepth          int   // nesting of arrays and dictionaries (default 256)
	MaxXrefSections   int   // length of the /Prev chain (default 4096)
	MaxTokenLen       int   // bytes in one string, name or number (default 32 MiB)
	MaxStreamSize     int64 // decoded bytes of one stream (default 256 MiB)
	MaxXrefStreamSize int64 // decoded bytes of an xref or object stream (default 64 MiB)
	MaxPageTreeDepth  int   // depth of the /Pages tree (default 256)
	MaxObjStmObjects  int64 // objects in one object stream (/N) (default 1,000,000)
	MaxResolveNesting int   // nested resolutions (object stream -> /Length -> ...) (default 32)
}

// DefaultLimits are the limits used for zero Limits fields.
var DefaultLimits = Limits{
	MaxObjects:        8388608,
	MaxDepth:          256,
	MaxXrefSections:   4096,
	MaxTokenLen:       32 << 20,
	MaxStreamSize:     256 << 20,
	MaxXrefStreamSize: 64 << 20,
	MaxPageTreeDepth:  256,
	MaxObjStmObjects:  1000000,
	MaxResolveNesting: 32,
}

func (l *Limits) fill() {
	d := DefaultLimits
	if l.MaxObjects <= 0 {
		l.MaxObjects = d.MaxObjects
	}
	l.MaxObjects = min(l.MaxObjects, 1<<32-2) // object numbers are uint32; keep room for one more
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxXrefSections <= 0 {
		l.MaxXrefSections = d.MaxXrefSections
	}
	if l.MaxTokenLen <= 0 {
		l.MaxTokenLen = d.MaxTokenLen
	}
	if l.MaxStreamSize <= 0 {
		l.MaxStreamSize = d.MaxStreamSize
	}
	if l.MaxXrefStreamSize <= 0 {
		l.MaxXrefStreamSize = d.MaxXrefStreamSize
	}
	if l.MaxPageTreeDepth <= 0 {
		l.MaxPageTreeDepth = d.MaxPageTreeDepth
	}
	if l.MaxObjStmObjects <= 0 {
		l.MaxObjStmObjects = d.MaxObjStmObjects
	}
	if l.MaxResolveNesting <= 0 {
		l.MaxResolveNesting = d.MaxResolveNesting
	}
}

// Options configure Open. The zero value (or nil) is the default.
type Options struct {
	Limits Limits
	// NoRepair makes Open (and later lookups) fail with ErrDamaged instead
	// of reconstructing a broken cross-reference structure.
	NoRepair bool
	// BlockSize and CacheBlocks size the read cache (default 8 KiB x 128).
	BlockSize   int
	CacheBlocks int
	// Password opens an encrypted file: its user or owner password. An
	// empty password opens files that anyone may read.
	Password []byte
}

// Reader reads a PDF file lazily from an io.ReaderAt. It is safe for
// concurrent use. A Reader obtained from AsOf is a view of an older revision
// that shares the file, cache and diagnostics with its parent.
type Reader struct {
	src  *source
	opts Options
	st   *sharedState

	headerOff int64
	version   string
	startxref int64
	chain     []*section  // whole /Prev chain, newest first
	revs      []*Revision // oldest first
	encrypt   *EncryptInfo
	crypt     *securityHandler // nil: not encrypted, or not decryptable

	// The view: which sections resolve objects.
	view    []*section // newest first
	viewRev int        // index of the newest revision in the view
	trailer *Dict

	mu      sync.Mutex
	cache   map[uint32]cached
	objstms map[uint32]*objStm
	pages   *pageState
}

// sharedState is shared between a Reader and its AsOf views.
type sharedState struct {
	mu          sync.Mutex
	defects     []string
	repaired    bool
	reasons     []string
	repairTable *section // reconstructed table (repaired mode)
	repairErr   error
	repairing   bool
}

// Open reads the header, the startxref and the cross-reference chain of the
// PDF held by ra (size bytes). It reads nothing else: objects are read when
// they are first resolved. opts may be nil.
//
// If the cross-reference structure is damaged (no startxref, an xref section
// that does not parse, a /Prev that is not an integer or loops, a /Root that
// cannot be read), Open reconstructs it by scanning the file and the Reader
// reports Repaired(); with Options.NoRepair it fails with ErrDamaged instead.
func Open(ra io.ReaderAt, size int64, opts *Options) (*Reader, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Limits.fill()
	if size < 0 {
		return nil, fmt.Errorf("pdf: negative size %d", size)
	}
	r := &Reader{
		src:   newSource(ra, size, o.BlockSize, o.CacheBlocks),
		opts:  o,
		st:    &sharedState{},
		cache: make(map[uint32]cached),
	}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	if err := r.loadChain(); err != nil {
		if o.NoRepair {
			return nil, err
		}
		if rerr := r.repair(err.Error()); rerr != nil {
			return nil, fmt.Errorf("%w (repair failed: %v)", err, rerr)
		}
	}
	if err := r.readEncrypt(); err != nil {
		return nil, err
	}
	// Check that the catalog is reachable; if not, the xref lies.
	if !r.Repaired() {
		if _, err := r.Catalog(); err != nil && !errors.Is(err, ErrEncrypted) && !errors.Is(err, ErrLimit) {
			if o.NoRepair {
				return nil, fmt.Errorf("%w: catalog: %w", ErrDamaged, err)
			}
			if rerr := r.repair("catalog not readable through the xref: " + err.Error()); rerr != nil {
				return nil, fmt.Errorf("%w: catalog: %w (repair failed: %v)", ErrDamaged, err, rerr)
			}
			if err := r.readEncrypt(); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

func (r *Reader) readHeader() error {
	n := min(r.src.size, 1024)
	buf := make([]byte, n)
	if _, err := r.src.readAt(buf, 0); err != nil {
		return err
	}
	i := bytes.Index(buf, []byte("%PDF-"))
	if i < 0 {
		return fmt.Errorf("%w: no %%PDF- header in the first %d bytes", ErrNotPDF, n)
	}
	r.headerOff = int64(i)
	if i > 0 {
		r.note(fmt.Sprintf("%d bytes before the %%PDF- header", i))
	}
	v := buf[i+5:]
	j := 0
	for j < len(v) && j < 8 && (isDigit(v[j]) || v[j] == '.') {
		j++
	}
	r.version = string(v[:j])
	return nil
}

// loadChain follows startxref and the /Prev chain.
func (r *Reader) loadChain() error {
	sx, err := r.findStartxref()
	if err != nil {
		return err
	}
	r.startxref = sx
	seen := make(map[int64]bool)
	off := sx
	for {
		if seen[off] {
			return fmt.Errorf("%w: /Prev chain loops back to offset %d", ErrDamaged, off)
		}
		if len(r.chain) >= r.opts.Limits.MaxXrefSections {
			return fmt.Errorf("%w: %w", ErrDamaged, limitErr("xref sections in the /Prev chain", int64(r.opts.Limits.MaxXrefSections)))
		}
		seen[off] = true
		sec, err := r.loadSection(off)
		if err != nil && r.headerOff > 0 && len(r.chain) == 0 {
			// Offsets counted from %PDF rather than from the file start.
			if sec2, err2 := r.loadSection(off + r.headerOff); err2 == nil {
				r.note(fmt.Sprintf("xref offsets are relative to the %%PDF header at %d", r.headerOff))
				sec, err = sec2, nil
			}
		}
		if err != nil {
			if len(r.chain) == 0 {
				return fmt.Errorf("%w: xref not found at startxref offset %d: %w", ErrDamaged, off, err)
			}
			return fmt.Errorf("%w: xref section at /Prev offset %d: %w", ErrDamaged, off, err)
		}
		r.chain = append(r.chain, sec)
		prev := sec.trailer.Get("Prev")
		if prev == nil {
			break
		}
		pv, ok := prev.(Integer)
		if !ok || pv < 0 {
			return fmt.Errorf("%w: /Prev in trailer of xref section at %d is not an integer (%s)", ErrDamaged, off, shortString(prev))
		}
		off = int64(pv)
	}
	r.revs = r.buildRevisions(r.chain)
	r.view = r.chain
	r.viewRev = len(r.revs) - 1
	r.trailer = r.chain[0].trailer
	return nil
}

func shortString(o Object) string {
	b, err := Marshal(o)
	if err != nil {
		return fmt.Sprintf("%T", o)
	}
	if len(b) > 40 {
		b = append(b[:40], "..."...)
	}
	return string(b)
}

func (r *Reader) note(s string) {
	r.st.mu.Lock()
	if len(r.st.defects) < 1000 {
		r.st.defects = append(r.st.defects, s)
	}
	r.st.mu.Unlock()
}

// Defects returns the defects the reader tolerated so far (whitespace
// errors in xref tables, wrong /Length, missing endobj, ...). It grows as
// objects are read.
func (r *Reader) Defects() []string {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return append([]string(nil), r.st.defects...)
}

// Repaired reports whether the cross-reference structure was reconstructed
// by scanning the file. It is set by Open, or later if an object the xref
// points to turns out to be garbage; check it after reading what you need.
// Repaired files are not safe to sign or verify.
func (r *Reader) Repaired() bool {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return r.st.repaired
}

// RepairReasons says why the file was repaired.
func (r *Reader) RepairReasons() []string {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return append([]string(nil), r.st.reasons...)
}

// Size returns the size of the file.
func (r *Reader) Size() int64 { return r.src.size }

// HeaderVersion returns the version from the %PDF-x.y header ("1.7").
func (r *Reader) HeaderVersion() string { return r.version }

// HeaderOffset returns the offset of "%PDF-" (0 unless there is leading garbage).
func (r *Reader) HeaderOffset() int64 { return r.headerOff }

// StartXref returns the value of the file's last startxref.
func (r *Reader) StartXref() int64 { return r.startxref }

// BytesRead returns how many bytes were read from the underlying
// io.ReaderAt so far (for benchmarks and tests of laziness).
func (r *Reader) BytesRead() int64 { return r.src.bytesRead.Load() }

// Trailer returns the trailer dictionary of the newest revision in view
// (for an xref stream: its stream dictionary). In repaired mode, a
// reconstructed trailer.
func (r *Reader) Trailer() *Dict {
	if t := r.repairTable(); t != nil {
		return t.trailer
	}
	if r.trailer == nil {
		return &Dict{}
	}
	return r.trailer
}

// Revisions returns the revisions, oldest first (Revisions()[0] is the
// original document). For a repaired file it lists only the sections that
// were read before the damage, and may be empty.
func (r *Reader) Revisions() []*Revision { return r.revs }

// AsOf returns a view of the document as of revision rev (an index into
// Revisions()): objects are resolved using only the xref sections of that
// revision and older ones. Not available on repaired files.
func (r *Reader) AsOf(rev int) (*Reader, error) {
	if r.Repaired() {
		return nil, fmt.Errorf("%w: revisions of a repaired file are not reliable", ErrRepaired)
	}
	if rev < 0 || rev >= len(r.revs) {
		return nil, fmt.Errorf("%w: %d (the file has %d)", ErrNoRevision, rev, len(r.revs))
	}
	// chain is newest first; revision rev starts at the first section of
	// revs[rev].
	first := r.revs[rev].secs[0]
	k := 0
	for k < len(r.chain) && r.chain[k] != first {
		k++
	}
	v := &Reader{
		src: r.src, opts: r.opts, st: r.st, headerOff: r.headerOff, version: r.version,
		startxref: r.startxref, chain: r.chain, revs: r.revs[:rev+1], encrypt: r.encrypt, crypt: r.crypt,
		view: r.chain[k:], viewRev: rev, trailer: first.trailer,
		cache: make(map[uint32]cached),
	}
	return v, nil
}

// Lookup returns the xref entry that defines object num in this view, and
// false if no section mentions num.
func (r *Reader) Lookup(num uint32) (XrefEntry, bool) {
	if t := r.repairTable(); t != nil {
		return t.lookup(num)
	}
	for _, s := range r.view {
		if e, ok := s.lookup(num); ok {
			return e, true
		}
	}
	return XrefEntry{}, false
}

func (r *Reader) repairTable() *section {
	if r.viewRev != len(r.revs)-1 && len(r.revs) > 0 {
		return nil // AsOf views never use the repair table
	}
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return r.st.repairTable
}

// MaxObjectNumber returns the highest object number any xref section of
// this view defines (or /Size-1, whichever is larger).
func (r *Reader) MaxObjectNumber() uint32 {
	var m int64
	secs := r.view
	if t := r.repairTable(); t != nil {
		secs = []*section{t}
	}
	for _, s := range secs {
		if n := len(s.entries); n > 0 && int64(s.entries[n-1].Num) > m {
			m = int64(s.entries[n-1].Num)
		}
		if sz, ok := s.trailer.Int("Size"); ok && sz-1 > m && sz <= r.opts.Limits.MaxObjects {
			m = sz - 1
		}
	}
	return uint32(m)
}

// Object returns the object ref refers to, resolved one level (a Ref stored
// as the object's value is returned as is). A free or undefined object, or
// a generation mismatch, yields Null.
func (r *Reader) Object(ref Ref) (Object, error) { return r.object(ref, 0) }

// Resolve follows o while it is a Ref and returns the direct object.
func (r *Reader) Resolve(o Object) (Object, error) { return r.resolve(o, 0) }

func (r *Reader) resolve(o Object, depth int) (Object, error) {
	for i := 0; ; i++ {
		ref, ok := o.(Ref)
		if !ok {
			if o == nil {
				return Null{}, nil
			}
			return o, nil
		}
		if i > r.opts.Limits.MaxResolveNesting {
			return nil, fmt.Errorf("%w: reference chain starting at %v", ErrSyntax, ref)
		}
		var err error
		o, err = r.object(ref, depth)
		if err != nil {
			return nil, err
		}
	}
}

// ResolveDict resolves o and returns it if it is a dictionary (a stream's
// dictionary counts), nil otherwise.
func (r *Reader) ResolveDict(o Object) (*Dict, error) {
	v, err := r.Resolve(o)
	if err != nil {
		return nil, err
	}
	switch d := v.(type) {
	case *Dict:
		return d, nil
	case *Stream:
		return d.Dict, nil
	}
	return nil, nil
}

func (r *Reader) object(ref Ref, depth int) (Object, error) {
	if depth > r.opts.Limits.MaxResolveNesting {
		return nil, fmt.Errorf("%w: nested object resolution at %v", ErrLimit, ref)
	}
	r.mu.Lock()
	if c, ok := r.cache[ref.Num]; ok {
		r.mu.Unlock()
		if c.gen != ref.Gen {
			return Null{}, nil
		}
		return c.o, nil
	}
	r.mu.Unlock()

	e, ok := r.Lookup(ref.Num)
	if !ok || e.Type == EntryFree {
		return Null{}, nil
	}
	var o Object
	var err error
	switch e.Type {
	case EntryInUse:
		o, err = r.readAt(ref.Num, e, depth)
		if err != nil && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrEncrypted) && r.canRepairLazily() {
			if rerr := r.repair(fmt.Sprintf("object %d: %v", ref.Num, err)); rerr == nil {
				return r.object(ref, depth)
			}
		}
	case EntryCompressed:
		o, err = r.readCompressed(ref.Num, e, depth)
	}
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.cache) < 1<<20 {
		r.cache[ref.Num] = cached{o, e.Gen}
	}
	r.mu.Unlock()
	if e.Gen != ref.Gen {
		r.note(fmt.Sprintf("reference %v: object %d has generation %d", ref, ref.Num, e.Gen))
		return Null{}, nil
	}
	return o, nil
}

type cached struct {
	o   Object
	gen uint16
}

func (r *Reader) canRepairLazily() bool {
	if r.opts.NoRepair || (len(r.revs) > 0 && r.viewRev != len(r.revs)-1) {
		return false
	}
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return !r.st.repaired && r.st.repairErr == nil && !r.st.repairing
}

// readAt parses the indirect object num at the entry's offset.
func (r *Reader) readAt(num uint32, e XrefEntry, depth int) (Object, error) {
	ref, o, err := r.parseAt(e.Offset, depth)
	if err == nil && ref.Num != num {
		err = &SyntaxError{Offset: e.Offset, Msg: fmt.Sprintf("xref entry for object %d points at object %d", num, ref.Num)}
	}
	if err != nil && r.headerOff > 0 {
		if ref2, o2, err2 := r.parseAt(e.Offset+r.headerOff, depth); err2 == nil && ref2.Num == num {
			return o2, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object %d at offset %d: %w", num, e.Offset, err)
	}
	if ref.Gen != e.Gen {
		r.note(fmt.Sprintf("object %d at offset %d has generation %d, xref says %d", num, e.Offset, ref.Gen, e.Gen))
	}
	return o, nil
}

func (r *Reader) parseAt(off int64, depth int) (Ref, Object, error) {
	if off < 0 || off >= r.src.size {
		return Ref{}, nil, &SyntaxError{Offset: off, Msg: "offset outside the file"}
	}
	lx := newFileLexer(r.src, off, r.opts.Limits.MaxTokenLen)
	p := &parser{lx: lx, maxDepth: r.opts.Limits.MaxDepth, defect: r.note}
	ref, o, err := p.parseIndirect(func(o Object) (int64, bool) {
		v, err := r.resolve(o, depth+1)
		if err != nil {
			return 0, false
		}
		n, ok := v.(Integer)
		return int64(n), ok && n >= 0
	})
	if err == nil {
		o, err = r.decryptObject(ref, o)
	}
	return ref, o, err
}

// objStm is a decoded object stream.
type objStm struct {
	data  []byte
	nums  []uint32
	offs  []int64 // absolute offsets in data
	first int64
}

func (r *Reader) readCompressed(num uint32, e XrefEntry, depth int) (Object, error) {
	if r.encrypt != nil && r.crypt == nil {
		return nil, fmt.Errorf("object %d is in object stream %d: %w", num, e.Stream, r.encryptedErr())
	}
	os, err := r.loadObjStm(e.Stream, depth)
	if err != nil {
		return nil, fmt.Errorf("object %d in object stream %d: %w", num, e.Stream, err)
	}
	idx := e.Index
	if idx < 0 || idx >= len(os.nums) || os.nums[idx] != num {
		idx = -1
		for i, n := range os.nums {
			if n == num {
				idx = i
				break
			}
		}
		if idx < 0 {
			r.note(fmt.Sprintf("object %d is not in object stream %d", num, e.Stream))
			return Null{}, nil
		}
	}
	lx := newMemLexer(os.data, r.opts.Limits.MaxTokenLen)
	lx.seek(os.offs[idx])
	p := &parser{lx: lx, maxDepth: r.opts.Limits.MaxDepth, where: fmt.Sprintf("object stream %d", e.Stream), defect: r.note}
	o, err := p.parseObject(0)
	if err != nil {
		return nil, fmt.Errorf("object %d in object stream %d: %w", num, e.Stream, err)
	}
	return o, nil
}

func (r *Reader) loadObjStm(num uint32, depth int) (*objStm, error) {
	r.mu.Lock()
	if os, ok := r.objstms[num]; ok {
		r.mu.Unlock()
		return os, nil
	}
	r.mu.Unlock()
	e, ok := r.Lookup(num)
	if !ok || e.Type != EntryInUse {
		return nil, fmt.Errorf("%w: object stream %d is not an object at a file offset", ErrSyntax, num)
	}
	o, err := r.object(Ref{Num: num, Gen: e.Gen}, depth+1)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*Stream)
	if !ok {
		return nil, fmt.Errorf("%w: object stream %d is not a stream", ErrSyntax, num)
	}
	if t, _ := s.Dict.Name("Type"); t != "ObjStm" {
		r.note(fmt.Sprintf("object stream %d has /Type %v", num, s.Dict.Get("Type")))
	}
	n, ok1 := s.Dict.Int("N")
	first, ok2 := s.Dict.Int("First")
	if !ok1 || !ok2 || n < 0 || first < 0 || n > r.opts.Limits.MaxObjStmObjects {
		return nil, fmt.Errorf("%w: object stream %d: bad /N or /First", ErrSyntax, num)
	}
	data, err := r.decodeStreamData(s, r.opts.Limits.MaxXrefStreamSize, false)
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", num, err)
	}
	if first > int64(len(data)) {
		return nil, fmt.Errorf("%w: object stream %d: /First %d beyond the data (%d bytes)", ErrSyntax, num, first, len(data))
	}
	os := &objStm{data: data, first: first}
	lx := newMemLexer(data[:first], 64)
	for i := int64(0); i < n; i++ {
		t1, err1 := lx.token()
		t2, err2 := lx.token()
		if err1 != nil || err2 != nil || t1.kind != tInt || t2.kind != tInt || t1.i < 0 || t1.i > 1<<32-1 || t2.i < 0 || first+t2.i > int64(len(data)) {
			return nil, fmt.Errorf("%w: object stream %d: bad header entry %d", ErrSyntax, num, i)
		}
		os.nums = append(os.nums, uint32(t1.i))
		os.offs = append(os.offs, first+t2.i)
	}
	r.mu.Lock()
	if r.objstms == nil {
		r.objstms = make(map[uint32]*objStm)
	}
	r.objstms[num] = os
	r.mu.Unlock()
	return os, nil
}

// Catalog returns the document catalog (trailer /Root).
func (r *Reader) Catalog() (*Dict, error) {
	root := r.Trailer().Get("Root")
	if root == nil {
		// Linearized or broken files: look in older trailers.
		for _, s := range r.view {
			if v := s.trailer.Get("Root"); v != nil {
				root = v
				break
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: trailer has no /Root", ErrSyntax)
	}
	o, err := r.Resolve(root)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	d, ok := o.(*Dict)
	if !ok {
		return nil, fmt.Errorf("%w: /Root %v is not a dictionary", ErrSyntax, root)
	}
	return d, nil
}

// Version returns the PDF version in effect: the later of the header and
// the catalog's /Version.
func (r *Reader) Version() string {
	v := r.version
	if cat, err := r.Catalog(); err == nil {
		if cv, ok := cat.Name("Version"); ok && versionLess(v, string(cv)) {
			v = string(cv)
		}
	}
	return v
}

func versionLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	return am < bm || (am == bm && an < bn)
}

// EncryptInfo describes the /Encrypt dictionary of an encrypted file.
type EncryptInfo struct {
	Filter    Name   // /Filter, normally /Standard
	SubFilter Name   // public-key security handlers
	V, R      int64  // algorithm and revision
	Length    int64  // key length in bits (0 if absent)
	Method    string // "RC4", "AES-128", "AES-256", "Identity" or "unknown"
	Dict      *Dict
	// Set once the password is accepted (standard security handler):
	Permissions     Permission // /P (see Owner, Allows)
	EncryptMetadata bool       // /EncryptMetadata (default true)

	owner     func() bool // is the password the owner's (asked once)
	ownerOnce sync.Once
	isOwner   bool
}

func (e *EncryptInfo) String() string {
	return fmt.Sprintf("%s (/Filter /%s, V=%d, R=%d)", e.Method, e.Filter, e.V, e.R)
}

// Encrypted returns the encryption parameters, or nil if the file is not
// encrypted. Files of the standard security handler are decrypted as they
// are read (Decrypting); for other handlers, reading streams (other than
// xref streams) or objects inside object streams fails with ErrEncrypted
// and strings are returned as stored.
func (r *Reader) Encrypted() *EncryptInfo { return r.encrypt }

func (r *Reader) encryptedErr() error {
	return fmt.Errorf("%w with %s; this security handler is not implemented", ErrEncrypted, r.encrypt)
}

// readEncrypt reads the /Encrypt dictionary and sets up decryption; it
// fails only when a password is needed or wrong.
func (r *Reader) readEncrypt() error {
	r.crypt = nil
	ev := r.Trailer().Get("Encrypt")
	if ev == nil {
		r.encrypt = nil
		return nil
	}
	info := &EncryptInfo{Method: "unknown"}
	r.encrypt = info // set first: resolving below must not decrypt
	d, _ := r.ResolveDict(ev)
	if d == nil {
		return nil
	}
	info.Dict = d
	info.Filter, _ = d.Name("Filter")
	info.SubFilter, _ = d.Name("SubFilter")
	info.V, _ = d.Int("V")
	info.R, _ = d.Int("R")
	info.Length, _ = d.Int("Length")
	switch info.V {
	case 1, 2, 3:
		info.Method = "RC4"
	case 4, 5, 6:
		cfm := Name("")
		if cf, _ := r.ResolveDict(d.Get("CF")); cf != nil {
			stmf, _ := d.Name("StmF")
			if stmf == "" {
				stmf = "Identity"
			}
			if f, _ := r.ResolveDict(cf.Get(stmf)); f != nil {
				cfm, _ = f.Name("CFM")
			}
		}
		switch cfm {
		case "V2":
			info.Method = "RC4"
		case "AESV2":
			info.Method = "AES-128"
		case "AESV3":
			info.Method = "AES-256"
		case "", "None":
			info.Method = "Identity"
			if info.V >= 5 {
				info.Method = "AES-256"
			}
		}
	}
	err := r.setupCrypt()
	// Objects read so far were read without decryption.
	r.mu.Lock()
	r.cache = make(map[uint32]cached)
	r.objstms = nil
	r.mu.Unlock()
	return err
}

// StreamData returns the decoded data of s, capped at Limits.MaxStreamSize.
func (r *Reader) StreamData(s *Stream) ([]byte, error) {
	return r.decodeStreamData(s, r.opts.Limits.MaxStreamSize, true)
}

// StreamReader returns a reader of the decoded data of s; reading more than
// limit bytes (Limits.MaxStreamSize if limit <= 0) fails with ErrLimit.
func (r *Reader) StreamReader(s *Stream, limit int64) (io.Reader, error) {
	if limit <= 0 {
		limit = r.opts.Limits.MaxStreamSize
	}
	return r.streamReader(s, limit, true)
}

// RawStreamReader returns a reader of the raw (still encoded) data of s.
func (r *Reader) RawStreamReader(s *Stream) (io.Reader, error) {
	if s.InMemory() {
		return bytes.NewReader(s.data), nil
	}
	if s.Offset+s.Length > r.src.size {
		return nil, fmt.Errorf("%w: stream data at %d+%d past end of file", ErrSyntax, s.Offset, s.Length)
	}
	return r.src.section(s.Offset, s.Length), nil
}

func (r *Reader) streamReader(s *Stream, limit int64, checkEncrypt bool) (io.Reader, error) {
	if s == nil || s.Dict == nil {
		return nil, fmt.Errorf("%w: nil stream", ErrSyntax)
	}
	if s.InMemory() {
		return &limitReader{r: bytes.NewReader(s.data), n: limit}, nil
	}
	if checkEncrypt && r.encrypt != nil && r.crypt == nil {
		if t, _ := s.Dict.Name("Type"); t != "XRef" {
			return nil, r.encryptedErr()
		}
	}
	specs, err := r.filterSpecs(s.Dict)
	if err != nil {
		return nil, err
	}
	raw, err := r.RawStreamReader(s)
	if err != nil {
		return nil, err
	}
	if s.encrypted && r.crypt != nil {
		m, rest, err := r.crypt.streamMethod(s, specs)
		if err != nil {
			return nil, err
		}
		raw, specs = r.crypt.decryptReader(m, s.cryptRef, raw), rest
	}
	return decodeChain(raw, specs, limit)
}

func (r *Reader) decodeStreamData(s *Stream, limit int64, checkEncrypt bool) ([]byte, error) {
	rd, err := r.streamReader(s, limit, checkEncrypt)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	// Size hint: an xref stream's size is its limit (bounded by what
	// deflate can expand the raw data to); otherwise assume 4:1
	// compression, at most 1 MiB up front.
	hint := min(limit, 4*s.Length+512, 1<<20)
	if t, _ := s.Dict.Name("Type"); t == "XRef" {
		hint = min(limit, 1032*s.Length+4096)
	}
	buf.Grow(int(max(hint, 0)) + bytes.MinRead)
	if _, err := buf.ReadFrom(rd); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// filterSpecs reads /Filter and /DecodeParms (resolving references).
func (r *Reader) filterSpecs(d *Dict) ([]filterSpec, error) {
	fo, err := r.Resolve(d.Get("Filter"))
	if err != nil {
		return nil, err
	}
	po, err := r.Resolve(d.Get("DecodeParms"))
	if err != nil {
		return nil, err
	}
	if _, ok := po.(Null); ok {
		po, _ = r.Resolve(d.Get("DP"))
	}
	var names []Name
	switch f := fo.(type) {
	case Null:
	case Name:
		names = []Name{f}
	case Array:
		if len(f) > 16 {
			return nil, limitErr("filters in a chain", 16)
		}
		for _, x := range f {
			x, err := r.Resolve(x)
			if err != nil {
				return nil, err
			}
			n, ok := x.(Name)
			if !ok {
				return nil, fmt.Errorf("%w: /Filter array holds a non-name", ErrSyntax)
			}
			names = append(names, n)
		}
	default:
		return nil, fmt.Errorf("%w: /Filter is neither a name nor an array", ErrSyntax)
	}
	specs := make([]filterSpec, len(names))
	for i, n := range names {
		specs[i].name = n
		var p Object
		switch pa := po.(type) {
		case *Dict:
			if i == 0 {
				p = pa
			}
		case Array:
			if i < len(pa) {
				p = pa[i]
			}
		}
		if p != nil {
			pd, err := r.ResolveDict(p)
			if err != nil {
				return nil, err
			}
			specs[i].parms = pd
		}
	}
	return specs, nil
}

// ObjectAt parses the indirect object "N G obj ... endobj" that starts at
// byte offset off, whatever the cross-reference sections say (for
// diagnostics about bytes no xref entry of the current view points to).
func (r *Reader) ObjectAt(off int64) (Ref, Object, error) { return r.parseAt(off, 0) }
