package pdf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func benchOpenCatalogPage0(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.ReportAllocs()
	var read int64
	for b.Loop() {
		r, err := Open(f, st.Size(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Catalog(); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Page(0); err != nil {
			b.Fatal(err)
		}
		read = r.BytesRead()
	}
	b.ReportMetric(float64(read), "bytes-read/op")
	b.ReportMetric(float64(st.Size()), "file-bytes")
}

// BenchmarkOpenCatalogPage0 measures what a signer pays before planning an
// update: Open + Catalog + Page(0).
func BenchmarkOpenCatalogPage0(b *testing.B) {
	b.Run("corpus-196pages-xrefstream", func(b *testing.B) {
		benchOpenCatalogPage0(b, filepath.Join(corpusDir, "many-pages-196-xrefstream.pdf"))
	})
	b.Run("corpus-28pages-table", func(b *testing.B) {
		benchOpenCatalogPage0(b, filepath.Join(corpusDir, "signed-2sigs-28pages.pdf"))
	})
	b.Run("generated-big", func(b *testing.B) {
		benchOpenCatalogPage0(b, bigFile(b))
	})
}

// BenchmarkUpdateWrite writes a signature-sized incremental update to the
// big generated file: the cost must not depend on the file size.
func BenchmarkUpdateWrite(b *testing.B) {
	path := bigFile(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	r, err := Open(f, st.Size(), nil)
	if err != nil {
		b.Fatal(err)
	}
	cat, err := r.Catalog()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		u := r.NewUpdate()
		sig := u.Add(NewDict(
			DictEntry{"Type", Name("Sig")},
			DictEntry{"ByteRange", Placeholder{Kind: PlaceholderByteRange}},
			DictEntry{"Contents", Placeholder{Kind: PlaceholderContents, Size: 16384}},
		))
		c := cat.Clone()
		c.Set("SemnatSig", sig)
		u.Set(r.Trailer().Get("Root").(Ref), c)
		if _, err := u.Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveAll resolves every object of a corpus file (warm cache
// excluded: a fresh Reader per iteration).
func BenchmarkResolveAll(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpusDir, "signed-filled-form-20pages.pdf"))
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			b.Fatal(err)
		}
		for n := uint32(1); n <= r.MaxObjectNumber(); n++ {
			if e, ok := r.Lookup(n); ok && e.Type != EntryFree {
				if _, err := r.Object(Ref{Num: n, Gen: e.Gen}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// bigFile generates (once, cached in the temp dir) a PDF of about
// SEMNAT_BENCH_BIG_MB MiB (default 256): a balanced page tree of pages
// that each own an incompressible 12 KiB content stream, classic xref.
func bigFile(b *testing.B) string {
	b.Helper()
	mb := 256
	if v, err := strconv.Atoi(os.Getenv("SEMNAT_BENCH_BIG_MB")); err == nil && v > 0 {
		mb = v
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("semnat-pdf-bench-%dmb.pdf", mb))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	const streamLen = 12 << 10
	pages := mb << 20 / (streamLen + 200)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	var offs []int64 // offsets of objects 1..n
	put := func(s string) {
		w.WriteString(s)
		off += int64(len(s))
	}
	obj := func(num int, body string) {
		for len(offs) < num {
			offs = append(offs, 0)
		}
		offs[num-1] = off
		put(strconv.Itoa(num) + " 0 obj\n" + body + "\nendobj\n")
	}
	put("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Object numbers: 1 catalog, 2 root node, then per page: page, content;
	// intermediate nodes after all pages.
	const fan = 64
	payload := randBytes(streamLen, 99)
	pageNum := func(i int) int { return 3 + 2*i }
	next := 3 + 2*pages
	level := make([]int, pages) // object numbers of the current level
	counts := make([]int, pages)
	for i := range level {
		level[i] = pageNum(i)
		counts[i] = 1
	}
	parent := make(map[int]int)
	for len(level) > fan {
		var up, upCounts []int
		for i := 0; i < len(level); i += fan {
			j := min(i+fan, len(level))
			n := next
			next++
			c := 0
			kids := ""
			for k := i; k < j; k++ {
				kids += strconv.Itoa(level[k]) + " 0 R "
				c += counts[k]
				parent[level[k]] = n
			}
			obj(n, fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d>>", kids, c))
			up = append(up, n)
			upCounts = append(upCounts, c)
		}
		level, counts = up, upCounts
	}
	kids := ""
	for _, k := range level {
		kids += strconv.Itoa(k) + " 0 R "
		parent[k] = 2
	}
	obj(1, "<</Type /Catalog /Pages 2 0 R>>")
	obj(2, fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842]>>", kids, pages))
	for i := 0; i < pages; i++ {
		p := pageNum(i)
		par := parent[p]
		if par == 0 {
			par = 2
		}
		obj(p, fmt.Sprintf("<</Type /Page /Parent %d 0 R /Contents %d 0 R /Resources <<>>>>", par, p+1))
		for len(offs) < p+1 {
			offs = append(offs, 0)
		}
		offs[p] = off
		put(fmt.Sprintf("%d 0 obj\n<</Length %d>>\nstream\n", p+1, streamLen))
		w.Write(payload)
		off += streamLen
		put("\nendstream\nendobj\n")
	}
	xref := off
	put(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(offs)+1))
	for _, o := range offs {
		put(fmt.Sprintf("%010d 00000 n \n", o))
	}
	put(fmt.Sprintf("trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref))
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpenEncrypted is BenchmarkOpenCatalogPage0 on encrypted corpus
// files: the key derivation (R6's 64+ rounds of AES and SHA-2, R2-R4's
// MD5 and RC4) is paid once per Open.
func BenchmarkOpenEncrypted(b *testing.B) {
	for _, name := range []string{"encrypted-aes256-r6-nouserpw.pdf", "encrypted-aes128-v4.pdf", "encrypted-rc4-128-v4-cryptfilter.pdf"} {
		b.Run(name, func(b *testing.B) {
			benchOpenCatalogPage0(b, filepath.Join(corpusDir, name))
		})
	}
}

// BenchmarkDecryptStream measures the throughput of stream decryption
// (streamed, 32 KiB at a time) for each method.
func BenchmarkDecryptStream(b *testing.B) {
	data := bytes.Repeat([]byte("semnat decrypt benchmark data.\n"), 1<<15) // ~1 MiB
	for _, m := range []struct {
		name string
		m    cryptMethod
		key  int
	}{{"RC4-128", cryptRC4, 16}, {"AES-128", cryptAESV2, 16}, {"AES-256", cryptAESV3, 32}} {
		b.Run(m.name, func(b *testing.B) {
			h := &securityHandler{key: bytes.Repeat([]byte{1}, m.key)}
			enc, err := h.encryptBytes(m.m, Ref{Num: 5}, data)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				n, err := io.Copy(io.Discard, h.decryptReader(m.m, Ref{Num: 5}, bytes.NewReader(enc)))
				if err != nil || n != int64(len(data)) {
					b.Fatalf("%d bytes, %v", n, err)
				}
			}
		})
	}
}
