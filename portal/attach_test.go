package portal

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"regexp"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/portal/catalog"
)

func images(t testing.TB) (pngData, jpegData []byte) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var p, j bytes.Buffer
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&j, img, nil); err != nil {
		t.Fatal(err)
	}
	return p.Bytes(), j.Bytes()
}

// TestSniff: a file is taken for what its content is, and only when its
// name and declared type say the same; a file that starts like a PDF or
// an image but is not one whole is refused.
func TestSniff(t *testing.T) {
	pdfData := samplepdf.Document("x", nil, 0)
	pngData, jpegData := images(t)
	for _, tc := range []struct {
		name     string
		data     []byte
		file, ct string
		want     string // "" : refused
	}{
		{"pdf", pdfData, "act.PDF", "application/pdf", "application/pdf"},
		{"pdf, no declared type", pdfData, "act.pdf", "", "application/pdf"},
		{"pdf, octet-stream", pdfData, "act.pdf", "application/octet-stream", "application/pdf"},
		{"png", pngData, "scan.png", "image/png", "image/png"},
		{"jpeg", jpegData, "scan.jpeg", "image/jpeg", "image/jpeg"},
		{"jpg", jpegData, "scan.jpg", "image/pjpeg", "image/jpeg"},
		{"png named pdf", pngData, "scan.pdf", "application/pdf", ""},
		{"pdf declared png", pdfData, "act.pdf", "image/png", ""},
		{"pdf named png", pdfData, "act.png", "image/png", ""},
		{"no extension", pdfData, "act", "application/pdf", ""},
		{"html", []byte("<html><script>alert(1)</script></html>"), "a.pdf", "application/pdf", ""},
		{"truncated pdf", pdfData[:len(pdfData)/2], "act.pdf", "application/pdf", ""},
		{"pdf header only", []byte("%PDF-1.7\n"), "act.pdf", "application/pdf", ""},
		{"truncated png", pngData[:12], "scan.png", "image/png", ""},
		{"truncated jpeg", jpegData[:5], "scan.jpg", "image/jpeg", ""},
		{"exe", []byte("MZ\x90\x00"), "a.pdf", "application/pdf", ""},
	} {
		got, err := sniff(tc.data, tc.file, tc.ct)
		switch {
		case tc.want == "" && !errors.Is(err, ErrFileType):
			t.Errorf("%s: %q %v, want ErrFileType", tc.name, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q %v, want %s", tc.name, got, err, tc.want)
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd":     "passwd",
		`C:\Users\ion\act.pdf`: "act.pdf",
		"a\x00b\nc\".pdf":      "abc.pdf",
		"":                     "document",
		"adeverință.pdf":       "adeverință.pdf",
		string(bytes.Repeat([]byte("ș"), 200)) + ".pdf": string(bytes.Repeat([]byte("ș"), 90)) + ".pdf",
	} {
		if got := cleanName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// FuzzSniff: no content makes sniff panic; what it takes has a type of
// the three.
func FuzzSniff(f *testing.F) {
	pngData, jpegData := images(f)
	f.Add(samplepdf.Document("x", nil, 0), "a.pdf")
	f.Add(pngData, "a.png")
	f.Add(jpegData, "a.jpg")
	f.Add([]byte("%PDF-1.4\ntrailer<</Root 1 0 R>>"), "a.pdf")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		kind, err := sniff(data, name, "")
		if err == nil && attachKinds[kind] == nil {
			t.Fatalf("took %q", kind)
		}
	})
}

// TestTexts: the catalogue of words loads (i18n refuses a language that
// lacks a word), and the pages use no word it lacks.
func TestTexts(t *testing.T) {
	for _, lang := range []string{"ro", "ru", "en"} {
		if len(words[lang]) < 100 || words[lang]["Portal"] == "" {
			t.Fatalf("%s: %d words", lang, len(words[lang]))
		}
	}
	if words["ru"]["Portal"] == words["ro"]["Portal"] {
		t.Fatal("the Russian words are the Romanian ones")
	}
	for _, name := range append(pageNames, "layout") {
		b, err := webFS.ReadFile("web/" + name + ".html")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range reTextKey.FindAllSubmatch(b, -1) {
			if _, ok := words["ro"][string(m[1])]; !ok {
				t.Errorf("%s.html uses %s, which has no text", name, m[0])
			}
		}
	}
	if got := problemText("en", catalog.FieldError{Field: "x", Code: catalog.ProblemTooLong, Param: "7"}); got != "At most 7 characters." {
		t.Errorf("a problem with its bound: %q", got)
	}
}

var reTextKey = regexp.MustCompile(`T "portal\.([A-Za-z0-9-]+)"`)
