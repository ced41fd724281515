// Package reportpdf renders a verification report (pades.Report) as a PDF
// that people can read and file: the verdict, one card per signature
// (signer by name, IDNP/IDNO, time in Europe/Chisinau and UTC, level,
// reasons), the document's SHA-256, the validation time and policy, in
// Romanian, Russian or English; and seals it, so that anyone can check the
// report itself with any PAdES verifier (semnat verify, pdfsig, Adobe).
package reportpdf

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Chisinau wherever the binary runs

	"github.com/semnat/semnat/internal/textpdf"
	"github.com/semnat/semnat/pades"
)

// ErrLanguage is returned for a language other than ro, ru or en.
var ErrLanguage = errors.New("reportpdf: unknown language (want ro, ru or en)")

// Input is what a report PDF shows.
type Input struct {
	Report *pades.Report
	// DocumentSHA256 is the SHA-256 of the verified file.
	DocumentSHA256 []byte
	// Lang is ro (default), ru or en.
	Lang string
	// Issuer names who issued the report (the service), shown at its foot.
	Issuer string
}

// chisinau is the time zone the times are shown in, beside UTC.
var chisinau = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Chisinau")
	if err != nil { // time/tzdata is embedded: cannot happen
		return time.FixedZone("EET", 2*3600)
	}
	return loc
}()

// CheckLang says whether lang is one the report is written in (ro, ru,
// en; empty is ro).
func CheckLang(lang string) error {
	if _, ok := words[lang]; !ok && lang != "" {
		return fmt.Errorf("%w: %q", ErrLanguage, lang)
	}
	return nil
}

// Render lays the report out on A4 pages.
func Render(in Input) ([]byte, error) {
	if in.Report == nil {
		return nil, errors.New("reportpdf: no report")
	}
	if in.Lang == "" {
		in.Lang = "ro"
	}
	if err := CheckLang(in.Lang); err != nil {
		return nil, err
	}
	w := words[in.Lang]
	rep := in.Report
	head := []string{w.title, ""}
	if rep.File != "" {
		head = append(head, w.file+": "+rep.File)
	}
	head = append(head,
		fmt.Sprintf("%s: %d %s", w.size, rep.Size, w.bytes),
		w.sha256+": "+hex.EncodeToString(in.DocumentSHA256),
		w.validated+": "+when(rep.ValidationTime),
		"",
		w.verdict+": "+w.indication(rep.Indication)+" ("+indication(rep.Indication, rep.SubIndication)+")",
		fmt.Sprintf("%s: %d · %s: %d", w.signatures, len(rep.Signatures), w.revisions, rep.Revisions),
	)
	for _, warn := range rep.Warnings {
		head = append(head, "! "+warn)
	}
	blocks := [][]string{head}
	for i, sig := range rep.Signatures {
		blocks = append(blocks, card(w, i+1, len(rep.Signatures), &sig))
	}
	foot := []string{w.policy + ": " + rep.Policy}
	if in.Issuer != "" {
		foot = append(foot, "", w.issuedBy+" "+in.Issuer+". "+w.checkIt)
	}
	blocks = append(blocks, foot)
	doc, err := textpdf.Render(blocks, textpdf.Options{FontSize: 10})
	if err != nil {
		return nil, fmt.Errorf("reportpdf: %w", err)
	}
	return doc, nil
}

// card is one signature's block.
func card(w *lang, n, of int, sig *pades.SignatureReport) []string {
	kind := w.signature
	if sig.Kind == "timestamp" {
		kind = w.docTimestamp
	}
	l := []string{
		fmt.Sprintf("%s %d / %d — %s “%s”", kind, n, of, w.field, sig.Field),
		"    " + w.verdict + ": " + w.indication(sig.Indication) + " (" + indication(sig.Indication, sig.SubIndication) + ")",
	}
	if s := sig.Signer; s != nil {
		l = append(l, "    "+w.signer+": "+commonName(s.Subject))
		if s.IDNP != "" {
			l = append(l, "    IDNP: "+s.IDNP)
		}
		if s.IDNO != "" {
			l = append(l, "    IDNO: "+s.IDNO)
		}
		l = append(l, "    "+w.issuer+": "+commonName(s.Issuer))
	}
	switch {
	case sig.Timestamp != nil && sig.Timestamp.Valid:
		l = append(l, "    "+w.time+": "+when(sig.BestSignatureTime)+" — "+w.timestamped)
	case sig.ClaimedSigningTime != nil:
		l = append(l, "    "+w.time+": "+when(*sig.ClaimedSigningTime)+" — "+w.claimed)
	}
	l = append(l, "    "+w.level+": "+sig.Level)
	if sig.Reason != "" {
		l = append(l, "    "+w.reason+": "+sig.Reason)
	}
	for _, r := range sig.Reasons {
		l = append(l, "    • "+r)
	}
	for _, r := range sig.Warnings {
		l = append(l, "    ! "+r)
	}
	return l
}

// when is t in Europe/Chisinau and in UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(chisinau).Format("2006-01-02 15:04:05 MST (Europe/Chisinau)") + " · " + t.UTC().Format("15:04:05 UTC")
}

func indication(i pades.Indication, sub pades.SubIndication) string {
	if sub != "" {
		return string(i) + "/" + string(sub)
	}
	return string(i)
}

// commonName is the CN of an RFC 4514 name (a person's or an
// organisation's name), else the whole name.
func commonName(dn string) string {
	for _, part := range strings.Split(dn, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
			return v
		}
	}
	return dn
}

// Seal signs the rendered report with signer (opts as for pades.Sign; at
// B-LT the report carries what a verifier needs years later).
func Seal(ctx context.Context, doc []byte, signer pades.Signer, opts *pades.Options) ([]byte, error) {
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &out, signer, opts); err != nil {
		return nil, fmt.Errorf("reportpdf: sealing the report: %w", err)
	}
	return out.Bytes(), nil
}
