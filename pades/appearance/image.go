package appearance

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	"github.com/semnat/semnat/pades/pdf"
)

// maxImagePixels bounds the pictures we decode (a stamp needs far fewer).
const maxImagePixels = 4096 * 4096

// imageXObject is a picture ready to become an image XObject.
type imageXObject struct {
	w, h   int
	box    [4]float64 // x, y, width, height in form space
	dict   *pdf.Dict  // without /Length
	data   []byte     // encoded as dict /Filter says
	smask  []byte     // Flate-encoded 8-bit alpha, or nil
	format string     // "png" or "jpeg"
}

// loadImage recognises PNG and JPEG by their signatures.
func loadImage(b []byte, z *deflater) (*imageXObject, error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return loadPNG(b, z)
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return loadJPEG(b)
	}
	return nil, fmt.Errorf("%w: not a PNG or JPEG file", ErrBadImage)
}

func checkSize(cfg image.Config, kind string) error {
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxImagePixels {
		return fmt.Errorf("%w: %s of %dx%d pixels (at most %d pixels)", ErrBadImage, kind, cfg.Width, cfg.Height, maxImagePixels)
	}
	return nil
}

// loadPNG decodes the picture and re-encodes it for PDF: gray or RGB
// samples with FlateDecode, and an /SMask when it has transparency.
func loadPNG(b []byte, z *deflater) (*imageXObject, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: PNG: %w", ErrBadImage, err)
	}
	if err := checkSize(cfg, "PNG"); err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: PNG: %w", ErrBadImage, err)
	}
	bd := img.Bounds()
	w, h := bd.Dx(), bd.Dy()
	gray := false
	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model:
		gray = true
	}
	comps := 3
	if gray {
		comps = 1
	}
	pix := make([]byte, 0, w*h*comps)
	alpha := make([]byte, 0, w*h)
	opaque := true
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if gray {
				pix = append(pix, c.R)
			} else {
				pix = append(pix, c.R, c.G, c.B)
			}
			alpha = append(alpha, c.A)
			if c.A != 0xFF {
				opaque = false
			}
		}
	}
	data, err := z.deflate(pix)
	if err != nil {
		return nil, err
	}
	cs := pdf.Name("DeviceRGB")
	if gray {
		cs = "DeviceGray"
	}
	im := &imageXObject{w: w, h: h, data: data, format: "png", dict: imageDict(w, h, cs, "FlateDecode")}
	if !opaque {
		if im.smask, err = z.deflate(alpha); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// loadJPEG passes the JPEG data through (/DCTDecode) after checking that it
// decodes.
func loadJPEG(b []byte) (*imageXObject, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: JPEG: %w", ErrBadImage, err)
	}
	if err := checkSize(cfg, "JPEG"); err != nil {
		return nil, err
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("%w: JPEG: %w", ErrBadImage, err)
	}
	var cs pdf.Name
	switch cfg.ColorModel {
	case color.GrayModel:
		cs = "DeviceGray"
	case color.YCbCrModel, color.RGBAModel:
		cs = "DeviceRGB"
	case color.CMYKModel:
		cs = "DeviceCMYK"
	default:
		return nil, fmt.Errorf("%w: JPEG colour model not supported", ErrBadImage)
	}
	d := imageDict(cfg.Width, cfg.Height, cs, "DCTDecode")
	if cs == "DeviceCMYK" && hasAdobeMarker(b) {
		// Adobe writes CMYK JPEGs with inverted samples.
		d.Set("Decode", pdf.Array{pdf.Integer(1), pdf.Integer(0), pdf.Integer(1), pdf.Integer(0), pdf.Integer(1), pdf.Integer(0), pdf.Integer(1), pdf.Integer(0)})
	}
	return &imageXObject{w: cfg.Width, h: cfg.Height, data: b, format: "jpeg", dict: d}, nil
}

// hasAdobeMarker reports whether the JPEG has an APP14 "Adobe" segment
// before its first scan.
func hasAdobeMarker(b []byte) bool {
	p := 2
	for p+4 <= len(b) {
		if b[p] != 0xFF {
			return false
		}
		m := b[p+1]
		if m == 0xDA || m == 0xD9 { // start of scan, end of image
			return false
		}
		n := int(b[p+2])<<8 | int(b[p+3])
		if n < 2 {
			return false
		}
		if m == 0xEE && p+4+5 <= len(b) && string(b[p+4:p+9]) == "Adobe" {
			return true
		}
		p += 2 + n
	}
	return false
}

func imageDict(w, h int, cs pdf.Name, filter pdf.Name) *pdf.Dict {
	return pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("XObject")},
		pdf.DictEntry{Key: "Subtype", Value: pdf.Name("Image")},
		pdf.DictEntry{Key: "Width", Value: pdf.Integer(w)},
		pdf.DictEntry{Key: "Height", Value: pdf.Integer(h)},
		pdf.DictEntry{Key: "ColorSpace", Value: cs},
		pdf.DictEntry{Key: "BitsPerComponent", Value: pdf.Integer(8)},
		pdf.DictEntry{Key: "Filter", Value: filter},
	)
}

// addObjects adds the image (and its soft mask) and returns its reference.
func (im *imageXObject) addObjects(a Adder) (pdf.Ref, error) {
	d := im.dict.Clone()
	if im.smask != nil {
		sm := a.Add(pdf.NewStream(imageDict(im.w, im.h, "DeviceGray", "FlateDecode"), im.smask))
		d.Set("SMask", sm)
	}
	d.Set("Interpolate", pdf.Bool(true))
	return a.Add(pdf.NewStream(d, im.data)), nil
}
