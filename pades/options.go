package pades

import (
	"crypto"
	"fmt"
	"strings"
	"time"

	"github.com/semnat/semnat/pades/appearance"
)

// Level is a PAdES baseline level.
type Level int

const (
	LevelBB   Level = iota + 1 // B-B: CMS signature
	LevelBT                    // B-T: + signature timestamp
	LevelBLT                   // B-LT: + /DSS with certificates, OCSP responses, CRLs
	LevelBLTA                  // B-LTA: + document timestamp over the DSS
)

var levelNames = map[Level]string{LevelBB: "B-B", LevelBT: "B-T", LevelBLT: "B-LT", LevelBLTA: "B-LTA"}

func (l Level) String() string {
	if n, ok := levelNames[l]; ok {
		return n
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel accepts B-B, B-T, B-LT, B-LTA (case-insensitive, dash optional).
func ParseLevel(s string) (Level, error) {
	norm := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
	for l, n := range levelNames {
		if strings.ReplaceAll(n, "-", "") == norm {
			return l, nil
		}
	}
	return 0, fmt.Errorf("pades: unknown level %q (want B-B, B-T, B-LT or B-LTA)", s)
}

// Visible places a visible signature on a page.
type Visible struct {
	Page int        // 1-based page number
	Rect [4]float64 // x1 y1 x2 y2 in PDF user space (points, origin bottom-left)
	// Corner, when set (bottom-left, bottom-right, top-left, top-right),
	// places the stamp in that corner of the page's crop box, 30 pt from
	// its edges, with Rect's size (200×60 pt when Rect is zero). Either
	// way, a stamp outside the crop box is refused (ErrStampOutsidePage).
	Corner string
	// Image is an optional PNG or JPEG drawn in the stamp.
	Image []byte
	// Lines replaces the default text (signer, date, reason, location).
	Lines []string
	// Background is the stamp's fill, opaque so that the page does not
	// show through it (nil: white); Transparent leaves it unfilled.
	// Border is the frame's colour (nil: dark blue).
	Background  *appearance.RGB
	Transparent bool
	Border      *appearance.RGB
}

// FieldLock says which form fields a signature locks (FieldMDP).
type FieldLock struct {
	Action string   // All, Include or Exclude
	Fields []string // fully qualified field names (Include/Exclude)
}

// Options describe a signature.
type Options struct {
	Level Level       // LevelBB when zero
	Hash  crypto.Hash // SHA-256 when zero
	// PSS signs RSA keys with RSA-PSS instead of PKCS#1 v1.5.
	PSS bool

	Reason, Location, ContactInfo, Name string
	// Time is the claimed signing time written in /M (now when zero).
	Time time.Time

	// Field names the signature field: an existing empty one is filled, a
	// missing one is created. Empty: the first empty signature field of
	// the document is filled (one with a rectangle when Visible is set),
	// else a new field "Signature<N>" is created.
	Field string
	// NewField creates a new signature field even when the document has
	// an empty one (ignored when Field names an existing field).
	NewField bool
	// Visible, when set, draws the signature on a page; otherwise the
	// widget is invisible.
	Visible *Visible
	// Certify makes this a certification signature with DocMDP P=1, 2 or 3.
	Certify int
	// Lock adds a FieldMDP transform locking form fields.
	Lock *FieldLock

	// Timestamper is required from B-T up.
	Timestamper Timestamper
	// Revocation is required for B-LT and B-LTA.
	Revocation RevocationSource
	// ExtraCerts are added to the /DSS (B-LT) besides the signer and TSA
	// chains, e.g. the root or OCSP responder certificates.
	ExtraCerts [][]byte

	// ContentsSize forces the /Contents placeholder size in bytes (0:
	// estimated from the chain, the key and the level).
	ContentsSize int

	// Password opens an encrypted PDF: its user or owner password (empty:
	// files anyone may open). Without the owner password, the file's
	// permissions must allow signing or form filling.
	Password []byte
}

func (o *Options) level() Level {
	if o.Level == 0 {
		return LevelBB
	}
	return o.Level
}

func (o *Options) hash() crypto.Hash {
	if o.Hash == 0 {
		return crypto.SHA256
	}
	return o.Hash
}

func (o *Options) check() error {
	switch o.hash() {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("pades: digest %v not allowed (use SHA-256, SHA-384 or SHA-512)", o.Hash)
	}
	if o.level() < LevelBB || o.level() > LevelBLTA {
		return fmt.Errorf("pades: unknown level %d", o.Level)
	}
	if o.level() >= LevelBT && o.Timestamper == nil {
		return ErrNeedTimestamper
	}
	if o.level() >= LevelBLT && o.Revocation == nil {
		return ErrNeedRevocation
	}
	if o.Certify < 0 || o.Certify > 3 {
		return fmt.Errorf("pades: DocMDP permission %d (want 1, 2 or 3)", o.Certify)
	}
	if o.Certify == 1 && o.level() >= LevelBLT {
		return fmt.Errorf("pades: certification with no changes allowed (P=1) forbids the DSS and document timestamp updates of %v; certify with P=2 or sign at B-T", o.level())
	}
	if v := o.Visible; v != nil {
		if v.Page < 1 {
			return fmt.Errorf("pades: visible signature page %d (pages count from 1)", v.Page)
		}
		if (v.Corner == "" || v.Rect != [4]float64{}) && (v.Rect[2] <= v.Rect[0] || v.Rect[3] <= v.Rect[1]) {
			return fmt.Errorf("pades: visible signature rectangle %v is empty (want x1,y1,x2,y2 with x2>x1, y2>y1)", v.Rect)
		}
	}
	if l := o.Lock; l != nil {
		switch l.Action {
		case "All":
		case "Include", "Exclude":
			if len(l.Fields) == 0 {
				return fmt.Errorf("pades: field lock %s needs field names", l.Action)
			}
		default:
			return fmt.Errorf("pades: field lock action %q (want All, Include or Exclude)", l.Action)
		}
	}
	return nil
}
