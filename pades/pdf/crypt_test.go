package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

// knownPassword is a manifest password column's value, "" when the column
// says empty, unknown ("?") or not applicable.
func knownPassword(v string) (string, bool) {
	switch strings.TrimSpace(v) {
	case "", "-", "?":
		return "", false
	case "(empty)":
		return "", true
	}
	return strings.TrimSpace(v), true
}

// qpdfDecrypt writes the qpdf-decrypted copy of path (the oracle).
func qpdfDecrypt(t *testing.T, path, password string) string {
	t.Helper()
	qpdf := testtool.Require(t, "qpdf")
	out := filepath.Join(t.TempDir(), "decrypted.pdf")
	cmd := exec.Command(qpdf, "--password="+password, "--decrypt", path, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		// Exit status 3: warnings only.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("qpdf --decrypt %s: %v\n%s", filepath.Base(path), err, b)
		}
	}
	return out
}

// graphCompare walks the object graphs of two readers from the catalog
// in parallel and reports the first differences: strings must be equal
// byte for byte and streams must decode to the same data. Stream keys the
// writer may change (/Length, /Filter, /DecodeParms) are not compared.
type graphCompare struct {
	t        *testing.T
	a, b     *Reader
	seen     map[[2]Ref]bool
	errs     int
	strings  int
	streams  int
	maxNodes int
}

func (g *graphCompare) fail(path, f string, args ...any) {
	g.errs++
	if g.errs <= 10 {
		g.t.Errorf("%s: %s", path, fmt.Sprintf(f, args...))
	}
}

func (g *graphCompare) cmp(path string, x, y Object, depth int) {
	if depth > 200 || len(g.seen) > g.maxNodes {
		return
	}
	rx, okx := x.(Ref)
	ry, oky := y.(Ref)
	if okx || oky {
		if okx && oky {
			k := [2]Ref{rx, ry}
			if g.seen[k] {
				return
			}
			g.seen[k] = true
		}
		var err error
		if x, err = g.a.Resolve(x); err != nil {
			g.fail(path, "ours: %v", err)
			return
		}
		if y, err = g.b.Resolve(y); err != nil {
			g.fail(path, "oracle: %v", err)
			return
		}
	}
	switch vx := x.(type) {
	case String:
		vy, ok := y.(String)
		if !ok || !bytes.Equal(vx.Value, vy.Value) {
			g.fail(path, "string %q, oracle %v", vx.Value, shortString(y))
		}
		g.strings++
	case Array:
		vy, ok := y.(Array)
		if !ok || len(vx) != len(vy) {
			g.fail(path, "array of %d, oracle %s", len(vx), shortString(y))
			return
		}
		for i := range vx {
			g.cmp(fmt.Sprintf("%s[%d]", path, i), vx[i], vy[i], depth+1)
		}
	case *Dict:
		vy, ok := y.(*Dict)
		if !ok {
			g.fail(path, "dictionary, oracle %T", y)
			return
		}
		g.dict(path, vx, vy, false, depth)
	case *Stream:
		vy, ok := y.(*Stream)
		if !ok {
			g.fail(path, "stream, oracle %T", y)
			return
		}
		g.dict(path, vx.Dict, vy.Dict, true, depth)
		dx, errx := g.a.StreamData(vx)
		dy, erry := g.b.StreamData(vy)
		switch {
		case errx == nil && erry == nil:
			if !bytes.Equal(dx, dy) {
				g.fail(path, "stream data differs (%d bytes, oracle %d)", len(dx), len(dy))
			}
			g.streams++
		case errors.Is(errx, ErrUnsupportedFilter) && errors.Is(erry, ErrUnsupportedFilter):
			ex, _ := g.a.EncodedStreamReader(vx)
			ey, _ := g.b.EncodedStreamReader(vy)
			bx, _ := readAllT(ex)
			by, _ := readAllT(ey)
			if !bytes.Equal(bx, by) {
				g.fail(path, "encoded stream data differs")
			}
			g.streams++
		default:
			g.fail(path, "stream data: ours %v, oracle %v", errx, erry)
		}
	case Null:
		if _, ok := y.(Null); !ok && y != nil {
			g.fail(path, "null, oracle %s", shortString(y))
		}
	default:
		if shortString(x) != shortString(y) {
			g.fail(path, "%s, oracle %s", shortString(x), shortString(y))
		}
	}
}

func readAllT(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

func (g *graphCompare) dict(path string, x, y *Dict, stream bool, depth int) {
	skip := func(k Name) bool {
		if stream && (k == "Length" || k == "Filter" || k == "DecodeParms" || k == "DL") {
			return true
		}
		// Linearization and writers' own keys, which qpdf drops or rewrites.
		return k == "Perms" && !stream && x.Has("DocMDP") || k == "Linearized"
	}
	for _, e := range x.Entries() {
		if skip(e.Key) {
			continue
		}
		yv := y.Get(e.Key)
		if yv == nil {
			if _, isNull := e.Value.(Null); !isNull {
				g.fail(path, "key /%s missing in the oracle", e.Key)
			}
			continue
		}
		if e.Key == "Parent" || e.Key == "P" {
			continue // back links: reached from above
		}
		g.cmp(path+"/"+string(e.Key), e.Value, yv, depth+1)
	}
}

// compareWithOracle decrypts path with our reader and with qpdf, and
// compares the two documents object by object.
func compareWithOracle(t *testing.T, path, password string) {
	t.Helper()
	ours := openFile(t, path, &Options{Password: []byte(password)})
	if !ours.Decrypting() {
		t.Fatalf("%s: not decrypting (%v)", filepath.Base(path), ours.Encrypted())
	}
	oracle := openFile(t, qpdfDecrypt(t, path, password), nil)
	ca, err := ours.Catalog()
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	cb, err := oracle.Catalog()
	if err != nil {
		t.Fatalf("oracle catalog: %v", err)
	}
	g := &graphCompare{t: t, a: ours, b: oracle, seen: map[[2]Ref]bool{}, maxNodes: 20000}
	g.dict("/Root", ca, cb, false, 0)
	if info := ours.Trailer().Get("Info"); info != nil {
		if oi := oracle.Trailer().Get("Info"); oi != nil {
			g.cmp("/Info", info, oi, 0)
		}
	}
	if g.streams == 0 {
		t.Errorf("no stream compared")
	}
	t.Logf("%s: %d strings, %d streams equal to qpdf's; %d objects", filepath.Base(path), g.strings, g.streams, len(g.seen))
}

// TestDecryptCorpus opens every encrypted corpus file with the passwords
// the manifest gives and compares its objects with qpdf's decryption.
func TestDecryptCorpus(t *testing.T) {
	n := 0
	for _, row := range loadManifest(t) {
		if row["encrypted"] == "none" {
			continue
		}
		n++
		t.Run(row["file"], func(t *testing.T) {
			path := filepath.Join(corpusDir, row["file"])
			user, _ := knownPassword(row["user_password"])
			owner, ownerKnown := knownPassword(row["owner_password"])
			f, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(bytes.NewReader(f), int64(len(f)), nil)
			if row["userpw"] == "yes" {
				if !errors.Is(err, ErrPasswordRequired) {
					t.Errorf("Open without password: %v, want ErrPasswordRequired", err)
				}
			} else if err != nil {
				t.Errorf("Open without password: %v", err)
			}
			if _, err := Open(bytes.NewReader(f), int64(len(f)), &Options{Password: []byte("not the password")}); row["userpw"] == "yes" && !errors.Is(err, ErrWrongPassword) {
				t.Errorf("Open with a wrong password: %v, want ErrWrongPassword", err)
			}
			r := openFile(t, path, &Options{Password: []byte(user)})
			if r.Encrypted().Owner() && ownerKnown && owner != user {
				t.Errorf("user password %q opened as owner", user)
			}
			if ownerKnown && owner != "" {
				ro := openFile(t, path, &Options{Password: []byte(owner)})
				if !ro.Encrypted().Owner() {
					t.Errorf("owner password %q not recognised as the owner's", owner)
				}
				if !ro.Encrypted().AllowsSigning() {
					t.Errorf("owner does not have every permission")
				}
			}
			compareWithOracle(t, path, user)
		})
	}
	if n < 5 {
		t.Errorf("only %d encrypted files in the corpus", n)
	}
}

// TestDecryptQpdfMade encrypts corpus files with qpdf in every method and
// compares our decryption with qpdf's.
func TestDecryptQpdfMade(t *testing.T) {
	qpdf := testtool.Require(t, "qpdf")
	bases := []string{"pdf17-xrefstream-objstm.pdf", "acroform-person-xrefstream.pdf", "pdf14-table.pdf"}
	type variant struct {
		name string
		args []string
		user string
	}
	variants := []variant{
		{"rc4-40", []string{"40"}, "u"},
		{"rc4-40-nouser", []string{"40"}, ""},
		{"rc4-128", []string{"128", "--use-aes=n"}, "u"},
		{"rc4-128-cleartext-metadata", []string{"128", "--use-aes=n", "--cleartext-metadata"}, ""},
		{"aes-128", []string{"128", "--use-aes=y"}, "u"},
		{"aes-128-nouser", []string{"128", "--use-aes=y"}, ""},
		{"aes-128-cleartext-metadata", []string{"128", "--use-aes=y", "--cleartext-metadata"}, "u"},
		{"aes-256", []string{"256"}, "u"},
		{"aes-256-nouser", []string{"256"}, ""},
		{"aes-256-cleartext-metadata", []string{"256", "--cleartext-metadata"}, ""},
		{"aes-256-r5", []string{"256", "--force-R5"}, "u"},
	}
	for _, base := range bases {
		for _, v := range variants {
			t.Run(base+"/"+v.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "enc.pdf")
				args := []string{"--encrypt", v.user, "owner"}
				if strings.HasPrefix(v.name, "rc4") {
					args = append([]string{"--allow-weak-crypto"}, args...)
				}
				args = append(args, v.args...)
				args = append(args, "--", filepath.Join(corpusDir, base), out)
				if b, err := exec.Command(qpdf, args...).CombinedOutput(); err != nil {
					if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
						t.Fatalf("qpdf %v: %v\n%s", args, err, b)
					}
				}
				for _, pw := range []string{v.user, "owner"} {
					r := openFile(t, out, &Options{Password: []byte(pw)})
					if got := r.Encrypted().Owner(); got != (pw == "owner") {
						t.Errorf("password %q: Owner = %v", pw, got)
					}
				}
				if strings.Contains(v.name, "cleartext") && r0EncryptMetadata(t, out, v.user) {
					t.Errorf("/EncryptMetadata false not read")
				}
				compareWithOracle(t, out, v.user)
			})
		}
	}
}

func r0EncryptMetadata(t *testing.T, path, pw string) bool {
	return openFile(t, path, &Options{Password: []byte(pw)}).Encrypted().EncryptMetadata
}

// FuzzDecrypt opens encrypted files (the corpus's, mutated) with a fuzzed
// password, reads every object and stream, and, when the file opens, writes
// an update and checks that its new string and stream decrypt to what was
// written.
func FuzzDecrypt(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*encrypted*.pdf"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 20000 {
			f.Add(b, "")
			f.Add(b, "view")
			f.Add(b, "user2")
		}
	}
	for _, enc := range hostileEncryptDicts() {
		f.Add(hostilePDF(enc), "")
	}
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		opts := *fuzzOptions
		opts.Password = []byte(pw)
		r, err := Open(bytes.NewReader(data), int64(len(data)), &opts)
		if err != nil {
			if r != nil {
				t.Fatal("Open returned a reader and an error")
			}
			return
		}
		budget := 500
		for num := uint32(1); num <= r.MaxObjectNumber() && budget > 0; num++ {
			budget--
			e, ok := r.Lookup(num)
			if !ok {
				continue
			}
			o, err := r.Object(Ref{Num: num, Gen: e.Gen})
			if s, ok := o.(*Stream); ok && err == nil {
				r.StreamData(s)
				if rd, err := r.EncodedStreamReader(s); err == nil {
					readAllT(rd)
				}
			}
		}
		if !r.Decrypting() || r.Repaired() {
			return
		}
		if _, err := r.Catalog(); err != nil {
			return
		}
		u := r.NewUpdate()
		want := "fuzz (string) \x00\xff"
		sref := u.Add(NewDict(DictEntry{"S", String{Value: []byte(want)}}))
		tref := u.Add(NewStream(nil, []byte("fuzz stream")))
		var buf bytes.Buffer
		if _, err := u.Write(&buf); err != nil {
			return
		}
		all := append(append([]byte(nil), data...), buf.Bytes()...)
		r2, err := Open(bytes.NewReader(all), int64(len(all)), &opts)
		if err != nil {
			t.Fatalf("reopening the update: %v", err)
		}
		if !r2.Decrypting() {
			return // the update's trailer made another /Encrypt current (a fuzzed hybrid file)
		}
		d, err := r2.ResolveDict(sref)
		if err != nil || d == nil {
			t.Fatalf("new dictionary: %v", err)
		}
		if s, _ := d.Get("S").(String); string(s.Value) != want {
			t.Fatalf("new string decrypts to %q", s.Value)
		}
		so, err := r2.Resolve(tref)
		if s, ok := so.(*Stream); !ok || err != nil {
			t.Fatalf("new stream: %v %v", so, err)
		} else if b, err := r2.StreamData(s); err != nil || string(b) != "fuzz stream" {
			t.Fatalf("new stream decrypts to %q, %v", b, err)
		}
	})
}

// FuzzAESStream: the streaming AES-CBC reader, read in small pieces, gives
// what decrypting the whole data at once gives.
func FuzzAESStream(f *testing.F) {
	h := &securityHandler{key: bytes.Repeat([]byte{7}, 16)}
	enc, _ := h.encryptBytes(cryptAESV2, Ref{Num: 3}, []byte("some stream data that spans blocks"))
	f.Add(enc, uint8(5))
	f.Add([]byte{}, uint8(1))
	f.Add(make([]byte, 16), uint8(3))
	f.Add(make([]byte, 40), uint8(16))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		whole, werr := h.decryptBytes(cryptAESV2, Ref{Num: 3}, data)
		rd := h.decryptReader(cryptAESV2, Ref{Num: 3}, &chunkReader{data: data, n: int(piece%32) + 1})
		var got []byte
		buf := make([]byte, int(piece%7)+1)
		var serr error
		for {
			n, err := rd.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				if err != io.EOF {
					serr = err
				}
				break
			}
		}
		if (werr != nil) != (serr != nil) {
			t.Fatalf("whole: %v, streamed: %v", werr, serr)
		}
		if werr == nil && !bytes.Equal(whole, got) {
			t.Fatalf("whole %x, streamed %x", whole, got)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	return k, nil
}

// hostileEncryptDicts are /Encrypt dictionaries with wrong lengths and
// inconsistent parameters (two of them made the reader panic once).
func hostileEncryptDicts() []string {
	o32 := "<" + strings.Repeat("41", 32) + ">"
	u16 := "<" + strings.Repeat("42", 16) + ">"
	u48 := "<" + strings.Repeat("42", 48) + ">"
	return []string{
		"<</Filter /Standard /V 1 /R 2 /O " + o32 + " /U " + u16 + " /P -4>>",
		"<</Filter /Standard /V 2 /R 3 /Length 8 /O " + o32 + " /U " + u16 + " /P -4>>",
		"<</Filter /Standard /V 2 /R 3 /Length 4096 /O " + o32 + " /U " + u16 + " /P -4>>",
		"<</Filter /Standard /V 4 /R 4 /Length 40 /CF <</StdCF <</CFM /AESV2>>>> /StmF /StdCF /StrF /StdCF /O " + o32 + " /U " + u16 + " /P -4>>",
		"<</Filter /Standard /V 4 /R 4 /CF <</StdCF <</CFM /Bogus>>>> /StmF /StdCF /StrF /StdCF /O " + o32 + " /U " + u16 + " /P -4>>",
		"<</Filter /Standard /V 4 /R 4 /StmF /Missing /O " + o32 + " /U " + u16 + " /P -4>>",
		"<</Filter /Standard /V 5 /R 6 /CF <</StdCF <</CFM /AESV3>>>> /StmF /StdCF /StrF /StdCF /O " + u48 + " /U " + u48 + " /OE " + o32 + " /UE " + o32 + " /P -4>>",
		"<</Filter /Standard /V 5 /R 6 /O <00> /U <00> /P -4>>",
		"<</Filter /Standard /V 4 /R 9 /O " + o32 + " /U " + u16 + ">>",
		"<</Filter /Standard /V 4 /R 4 /O (short) /U (short)>>",
	}
}

// hostilePDF is a small document encrypted with enc.
func hostilePDF(enc string) []byte {
	objs := append(append([]string(nil), minimalObjs...), enc)
	objs[0] = "<</Type /Catalog /Pages 2 0 R /S (a string) /H <0001>>>"
	return mkPDF(objs, "/Encrypt 5 0 R /ID [<00112233445566778899aabbccddeeff> <00>]")
}

// TestCryptHostileEncryptDicts: such dictionaries give an error or a
// reader, never a panic, and reading strings and streams with the key they
// give does not panic either.
func TestCryptHostileEncryptDicts(t *testing.T) {
	for _, enc := range hostileEncryptDicts() {
		data := hostilePDF(enc)
		for _, pw := range []string{"", "pw"} {
			r, err := Open(bytes.NewReader(data), int64(len(data)), &Options{Password: []byte(pw)})
			if err != nil {
				if !errors.Is(err, ErrPasswordRequired) && !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrEncrypted) {
					t.Errorf("%s: unexpected error %v", enc, err)
				}
				continue
			}
			r.Catalog()
			if s, err := r.Resolve(Ref{Num: 4}); err == nil {
				if st, ok := s.(*Stream); ok {
					r.StreamData(st)
				}
			}
		}
	}
}
