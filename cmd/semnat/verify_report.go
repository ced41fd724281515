package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/semnat/semnat/internal/atomicfile"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/reportpdf"
	"github.com/semnat/semnat/tsa"
)

// writeReportPDF writes rep, the report of file, as a PDF to
// --report-pdf: sealed when a key is given, whole or not at all.
func writeReportPDF(ctx context.Context, a *app, f *verifyFlags, file string, rep *pades.Report) error {
	sum, err := fileDigest(file)
	if err != nil {
		return withCode(exitUsage, err)
	}
	in := reportpdf.Input{Report: rep, DocumentSHA256: sum, Lang: f.reportLang}
	var signer pades.Signer
	if f.keys.given() {
		s, closeKey, err := f.keys.open(ctx, a)
		if err != nil {
			return err
		}
		defer closeKey()
		signer = s
		in.Issuer = s.Certificate().Subject.CommonName
	}
	doc, err := reportpdf.Render(in)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if signer == nil {
		a.log.Warn("the PDF report is not sealed: give --p12, --key/--cert or --token to seal it", "file", f.reportPDF)
	} else {
		hc := &http.Client{Timeout: f.timeout}
		opts := &pades.Options{Name: in.Issuer, Reason: "Verification report"}
		if f.tsaURL != "" {
			opts.Level, opts.Timestamper = pades.LevelBT, pades.TSA{Client: &tsa.Client{URL: f.tsaURL, HTTPClient: hc}}
			if !f.offline {
				opts.Level, opts.Revocation = pades.LevelBLT, pades.OnlineRevocation{HTTP: hc}
			}
		}
		if doc, err = reportpdf.Seal(ctx, doc, signer, opts); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if err := atomicfile.WriteBytes(f.reportPDF, 0o644, doc); err != nil {
		return withCode(exitUsage, fmt.Errorf("--report-pdf: %w", err))
	}
	return nil
}

// fileDigest is the SHA-256 of a file.
func fileDigest(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
