package appearance

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades/pdf"
)

func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

// A4 page, in points.
const pageW, pageH = 595, 842

// minimalPDF writes a one-page PDF 1.7 with a classic xref table and an
// empty content stream.
func minimalPDF() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << >> /Contents 4 0 R >>", pageW, pageH),
		"<< /Length 0 >>\nstream\n\nendstream",
	}
	return samplepdf.Assemble(objs, "")
}

// stampPDF adds a stamp built from spec to the minimal page, the way a
// signer does: an unsigned signature field whose widget has the stamp as
// its normal appearance. It returns the file's path.
func stampPDF(t testing.TB, spec Spec) string {
	t.Helper()
	return stampPDFOn(t, minimalPDF(), spec)
}

// stampPDFOn is stampPDF on the one-page PDF orig.
func stampPDFOn(t testing.TB, orig []byte, spec Spec) string {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(orig), int64(len(orig)), nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := r.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	ap, err := Build(u, spec)
	if err != nil {
		t.Fatal(err)
	}
	rect := pdf.Array{}
	for _, v := range spec.Rect {
		rect = append(rect, pdf.NewReal(v))
	}
	widget := u.Add(pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("Annot")},
		pdf.DictEntry{Key: "Subtype", Value: pdf.Name("Widget")},
		pdf.DictEntry{Key: "FT", Value: pdf.Name("Sig")},
		pdf.DictEntry{Key: "T", Value: pdf.String{Value: []byte("Signature1")}},
		pdf.DictEntry{Key: "Rect", Value: rect},
		pdf.DictEntry{Key: "F", Value: pdf.Integer(4)},
		pdf.DictEntry{Key: "P", Value: page.Ref},
		pdf.DictEntry{Key: "AP", Value: pdf.NewDict(pdf.DictEntry{Key: "N", Value: ap})},
	))
	pd := page.Dict.Clone()
	pd.Set("Annots", pdf.Array{widget})
	if err := u.Set(page.Ref, pd); err != nil {
		t.Fatal(err)
	}
	cat = cat.Clone()
	cat.Set("AcroForm", pdf.NewDict(pdf.DictEntry{Key: "Fields", Value: pdf.Array{widget}}))
	if err := u.Set(r.Trailer().Get("Root").(pdf.Ref), cat); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(orig)
	if _, err := u.Write(&out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stamp.pdf")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

var typicalLines = []string{
	"Semnat digital de: Ștefan Țurcanu",
	"IDNP: 2004001000035",
	"Data: 23.11.2026 14:05:06 EET",
	"Motiv: Aprob conținutul — Согласовано, Щука Ёж",
	"Locul: Chișinău, ĂÂÎȘȚ ăâîșț",
}

// renderStamp renders page 1 at 100 dpi and returns the image.
func renderStamp(t testing.TB, path string) image.Image {
	t.Helper()
	requireTool(t, "pdftoppm")
	prefix := filepath.Join(filepath.Dir(path), "page")
	run(t, "pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", path, prefix)
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("APPEARANCE_KEEP"); dir != "" { // to look at them
		name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		b, _ := os.ReadFile(prefix + ".png")
		os.WriteFile(name+".png", b, 0o644)
		b, _ = os.ReadFile(path)
		os.WriteFile(name+".pdf", b, 0o644)
	}
	return img
}

// countPixels counts pixels in the PDF rectangle (points, origin bottom
// left) of a 100 dpi rendering that satisfy pred.
func countPixels(img image.Image, rect [4]float64, pred func(r, g, b uint32) bool) (n, total int) {
	const s = 100.0 / 72
	x0, x1 := int(rect[0]*s), int(rect[2]*s)
	y0, y1 := int((pageH-rect[3])*s), int((pageH-rect[1])*s)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			total++
			if pred(r>>8, g>>8, b>>8) {
				n++
			}
		}
	}
	return n, total
}

func dark(r, g, b uint32) bool { return r < 100 && g < 100 && b < 100 }

func TestStampWithPoppler(t *testing.T) {
	requireTool(t, "qpdf")
	requireTool(t, "pdftotext")
	requireTool(t, "pdffonts")
	t.Run("GoRegular", func(t *testing.T) { testStamp(t, nil, "GoRegular") })
	// DejaVu Sans draws accented letters as composite glyphs: this checks
	// that the subset keeps their components.
	if dv, err := os.ReadFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"); err == nil {
		t.Run("DejaVuSans", func(t *testing.T) { testStamp(t, dv, "DejaVuSans") })
	}
}

func testStamp(t *testing.T, font []byte, fontName string) {
	spec := Spec{Rect: [4]float64{300, 80, 560, 170}, Lines: typicalLines, Font: font}
	a, err := Layout(spec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.Rows, "\n") != strings.Join(typicalLines, "\n") {
		t.Fatalf("rows were wrapped, the text test needs them whole: %q", a.Rows)
	}
	path := stampPDF(t, spec)

	// (1) structure
	run(t, "qpdf", "--check", path)

	// (2) text: ToUnicode and glyph mapping are right.
	text := run(t, "pdftotext", "-enc", "UTF-8", path, "-")
	for _, l := range typicalLines {
		if !strings.Contains(text, l) {
			t.Errorf("pdftotext lacks %q; got:\n%s", l, text)
		}
	}

	// (3) the font is an embedded subset CID TrueType font.
	fonts := run(t, "pdffonts", path)
	re := regexp.MustCompile(`(?m)^([A-Z]{6})\+` + fontName + `\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes\s`)
	m := re.FindStringSubmatch(fonts)
	if m == nil {
		t.Fatalf("pdffonts does not show an embedded subset CID TrueType font:\n%s", fonts)
	}
	if !strings.HasPrefix(a.FontName, m[1]+"+") {
		t.Errorf("font name %q, pdffonts says %q", a.FontName, m[1])
	}

	// (4) it renders: the stamp region has text pixels, the rest of the
	// page stays white.
	img := renderStamp(t, path)
	n, total := countPixels(img, spec.Rect, dark)
	if n < total/50 {
		t.Errorf("stamp region has %d dark pixels out of %d: text not drawn?", n, total)
	}
	if n > total/2 {
		t.Errorf("stamp region has %d dark pixels out of %d: garbage?", n, total)
	}
	if n, _ := countPixels(img, [4]float64{20, 300, 560, 800}, dark); n != 0 {
		t.Errorf("%d dark pixels outside the stamp", n)
	}
	t.Logf("font subset %d bytes (%s), %d glyphs drawn, size %.1f pt, %d/%d dark pixels",
		len(a.FontProgram), a.FontName, len(a.font.drawn), a.FontSize, n, total)
}

// testPNG draws a blue disc on a transparent square.
func testPNG(t testing.TB) []byte {
	const n = 120
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := x-n/2, y-n/2
			if dx*dx+dy*dy < (n/2-4)*(n/2-4) {
				img.Set(x, y, color.NRGBA{20, 60, 200, 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testJPEG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 160, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 160; x++ {
			img.Set(x, y, color.RGBA{200, 30, 30, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func blue(r, g, b uint32) bool  { return b > 150 && r < 80 && g < 110 }
func red(r, g, b uint32) bool   { return r > 150 && g < 80 && b < 80 }
func faint(r, g, b uint32) bool { return b > r+20 && r > 120 } // 25% blue over white

func TestStampImages(t *testing.T) {
	requireTool(t, "qpdf")
	cases := []struct {
		name  string
		spec  Spec
		color func(r, g, b uint32) bool
		left  bool // the colour must be in the left third only
	}{
		{"png-left", Spec{Rect: [4]float64{300, 80, 560, 170}, Lines: typicalLines, Image: testPNG(t)}, blue, true},
		{"jpeg-left", Spec{Rect: [4]float64{300, 80, 560, 170}, Lines: typicalLines, Image: testJPEG(t)}, red, true},
		{"png-background", Spec{Rect: [4]float64{300, 80, 480, 200}, Lines: typicalLines, Image: testPNG(t)}, faint, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := stampPDF(t, c.spec)
			run(t, "qpdf", "--check", path)
			img := renderStamp(t, path)
			r := c.spec.Rect
			n, total := countPixels(img, r, c.color)
			if n < total/20 {
				t.Errorf("image colour on %d of %d pixels: image not drawn?", n, total)
			}
			if c.left {
				right := [4]float64{r[0] + (r[2]-r[0])*0.45, r[1], r[2], r[3]}
				if n, _ := countPixels(img, right, c.color); n != 0 {
					t.Errorf("image colour on %d pixels right of the image column", n)
				}
			}
			if n, _ := countPixels(img, r, dark); n < 100 {
				t.Errorf("only %d dark pixels: text not drawn?", n)
			}
		})
	}
}
