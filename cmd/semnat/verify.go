package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/pades/reportpdf"
	"github.com/semnat/semnat/pades/verifyjson"
)

// verifyFlags are the flags of `semnat verify`.
type verifyFlags struct {
	trust         []string
	intermediates []string
	systemRoots   bool
	offline       bool
	online        bool // deprecated: online is the default
	revocation    string
	at            string
	jobs          int
	timeout       time.Duration
	password      pdfPassword
	// --report-pdf: the report as a PDF, sealed with keys at B-B, or B-LT
	// with --tsa.
	reportPDF  string
	reportLang string
	keys       keyFlags
	tsaURL     string
}

func newVerifyCmd(a *app) *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify FILE.pdf...",
		Short: "Verify the signatures and document timestamps of PDF files (PAdES)",
		Long: `Verify every signature and document timestamp of each PDF: ByteRange
coverage and structure, digest, CMS signature, signer certificate, chain to
the trust anchors given with --trust, revocation, timestamps, and what later
revisions changed. Each signature gets one indication (ETSI EN 319 102-1):
TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE, with a sub-indication and reasons.

Trust anchors: PEM (or DER) files or directories of them (--trust, repeatable);
the system roots only with --system-roots.

Revocation: --revocation auto (default) uses the data embedded in the file
(DSS, Adobe revocation attribute), then asks the certificates' OCSP
responders, then their CRLs, as the web page and API do, so the three
give the same verdict; --offline makes no request (a signature whose status
the file does not hold is then INDETERMINATE/TRY_LATER).
--revocation skip does not check revocation (the report says so).

The level (B-B, B-T, B-LT, B-LTA) is what the file holds, the same whatever
--trust: a signature timestamp makes it B-T even when its TSA is not
trusted (the timestamp check then says so).

Changes after a signature (the report's "policy" field says the same):
after a certification (DocMDP), P=1 allows only DSS and document
timestamps; P=2 also signing, form filling (a field's value, its appearance
redrawn in the same revision) and metadata; P=3 also annotations. A visible
signature added after a certification must be signed in the revision that
adds it and draw inside its rectangle; it is listed as a warning with its
page and rectangle. Anything else: TOTAL-FAILED/FORMAT_FAILURE.
After an approval signature only, metadata, DSS, document timestamps,
signing and form filling are allowed; changes that show nothing new (a
page-tree node rewritten with the same pages, form resources) are warnings;
changes that alter what the pages show (new or changed content, annotations
that draw, appearances changed without their field's value, pages added or
removed) make the signature INDETERMINATE/SIG_CONSTRAINTS_FAILURE: its
bytes are intact, but the document shown is no longer the one signed.
An xref that had to be repaired, at any moment, fails every signature.
Encrypted PDFs are decrypted to examine them: a file anyone may open needs
no password; otherwise give the user or owner password with --password-file,
$SEMNAT_PDF_PASSWORD, or type it at the prompt.

--report-pdf FILE writes the report of one PDF as a PDF, as the web
service's verify page and API give it: the verdict, one card per signature
(signer by name, IDNP/IDNO, time in Europe/Chisinau and UTC, level,
reasons), the document's SHA-256, the validation time and policy, in
--report-lang ro, ru or en. With a key (--p12, --key/--cert or --token, as
for semnat sign) the report is sealed, at B-LT with --tsa (B-T with
--offline), else at B-B, so anyone can check it with any PAdES verifier;
without a key it is written unsealed, with a warning.

--at validates at another time (RFC 3339 or YYYY-MM-DD). --json prints the
report (schema "semnat-verify/1"): for one file the report, or {version,
file, error: {message, exit_code}} when it cannot be read; for several
{version, indication, reports: [...]}, an entry {file, error} for each file
that cannot be read, the indication the worst of the reports (absent when
no file could be read).

Exit codes: 0 every signature passed, 1 a signature failed, 2 indeterminate
(or no signature), 3 usage or I/O error.`,
		Example: `  semnat verify contract-signed.pdf --trust pki/trust-anchors.pem
  semnat verify *.pdf --trust roots/ --json > report.json
  semnat verify contract-signed.pdf --trust pki/trust-anchors.pem --offline
  semnat verify old.pdf --trust root.pem --at 2024-01-31 --revocation skip
  semnat verify contract-signed.pdf --trust pki/trust-anchors.pem --report-pdf report.pdf --report-lang ro \
      --p12 seal.p12 --p12-pass-file seal.pass --tsa http://127.0.0.1:8480/tsa`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), a, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.trust, "trust", nil, "trust anchors: PEM/DER file or directory (repeatable)")
	fl.StringSliceVar(&f.intermediates, "intermediates", nil, "extra intermediate CA certificates: file or directory (repeatable)")
	fl.BoolVar(&f.systemRoots, "system-roots", false, "also trust the operating system's root certificates")
	fl.BoolVar(&f.offline, "offline", false, "make no OCSP or CRL request: use only the revocation data the file holds")
	fl.BoolVar(&f.online, "online", true, "fetch revocation status online (the default; --offline turns it off)")
	_ = fl.MarkDeprecated("online", "online checking is the default; --offline turns it off")
	fl.StringVar(&f.revocation, "revocation", "auto", "revocation checking: auto or skip")
	fl.StringVar(&f.at, "at", "", "validation time (RFC 3339 or YYYY-MM-DD; default now)")
	fl.IntVar(&f.jobs, "jobs", runtime.NumCPU(), "files verified in parallel")
	fl.DurationVar(&f.timeout, "timeout", 15*time.Second, "timeout of each online request")
	f.password.register(fl)
	fl.StringVar(&f.reportPDF, "report-pdf", "", "write the report of the (one) PDF as a PDF to this file, sealed when a key is given")
	fl.StringVar(&f.reportLang, "report-lang", "ro", "language of --report-pdf: ro, ru or en")
	fl.StringVar(&f.tsaURL, "tsa", "", "RFC 3161 timestamp authority for the report's seal (B-LT)")
	f.keys.register(fl)
	return cmd
}

// certPool pools certs.
func certPool(certs []*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// loadCertificates reads certificates (PEM or DER) from files and
// directories.
func loadCertificates(paths []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			files = files[:0]
			for _, e := range entries {
				switch strings.ToLower(filepath.Ext(e.Name())) {
				case ".pem", ".crt", ".cer", ".der":
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, fn := range files {
			data, err := os.ReadFile(fn)
			if err != nil {
				return nil, err
			}
			certs, err := keyfile.ParseCerts(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
			out = append(out, certs...)
		}
	}
	return out, nil
}

func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2024-01-31T12:00:00Z) or YYYY-MM-DD", s)
}

// verifyResult is one file's outcome.
type verifyResult struct {
	report *pades.Report
	err    error
}

func runVerify(ctx context.Context, a *app, f *verifyFlags, files []string) error {
	opts := &pades.VerifyOptions{Online: f.online && !f.offline, SystemRoots: f.systemRoots, HTTPClient: &http.Client{Timeout: f.timeout},
		Cache: pades.NewVerifyCache(0)} // one cache for the batch: each CA signature is checked once
	switch f.revocation {
	case "auto":
	case "skip":
		opts.Revocation = pades.RevocationSkip
	default:
		return withCode(exitUsage, fmt.Errorf("--revocation %q: want auto or skip", f.revocation))
	}
	if f.reportPDF != "" && len(files) != 1 {
		return withCode(exitUsage, errors.New("--report-pdf writes the report of one PDF; give one file"))
	}
	if err := reportpdf.CheckLang(f.reportLang); err != nil && f.reportPDF != "" {
		return withCode(exitUsage, fmt.Errorf("--report-lang: %w", err))
	}
	at, err := parseAt(f.at)
	if err != nil {
		return withCode(exitUsage, err)
	}
	opts.At = at
	if len(f.trust) > 0 {
		roots, err := loadCertificates(f.trust)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--trust: %w", err))
		}
		opts.Roots = certPool(roots)
	}
	if len(f.intermediates) > 0 {
		if opts.Intermediates, err = loadCertificates(f.intermediates); err != nil {
			return withCode(exitUsage, fmt.Errorf("--intermediates: %w", err))
		}
	}
	if err := f.password.load(); err != nil {
		return withCode(exitUsage, err)
	}
	defer f.password.wipe()
	if opts.Roots == nil && !opts.SystemRoots {
		a.log.Warn("no trust anchors given (--trust): every chain will be INDETERMINATE")
	}
	results := make([]verifyResult, len(files))
	progress := len(files) > 1 && !a.json && isTerminal(a.stderr)
	forEach(ctx, a, len(files), f.jobs, progress, func(finished, _ int) string { return progressBar(finished, len(files)) }, func(i int) {
		var rep *pades.Report
		err := f.password.do(a, files[i], func(pw []byte) error {
			o := *opts
			if len(pw) > 0 {
				o.PDF = &pdf.Options{Password: pw}
			}
			var err error
			rep, err = verifyFile(ctx, files[i], &o)
			return err
		})
		results[i] = verifyResult{rep, err}
		a.log.Debug("verified", "file", files[i], "err", err)
	})
	if err := ctx.Err(); err != nil {
		return withCode(exitUsage, err)
	}

	code := exitOK
	worst := func(c int) {
		// usage/IO (3) > failed (1) > indeterminate (2) > ok (0)
		rank := map[int]int{exitOK: 0, exitIndeterminate: 1, exitFailed: 2, exitUsage: 3}
		if rank[c] > rank[code] {
			code = c
		}
	}
	var ioErrs []string
	for i, r := range results {
		if r.err != nil {
			worst(exitUsage)
			ioErrs = append(ioErrs, inFile(files[i], r.err).Error())
			continue
		}
		worst(r.report.ExitCode())
	}
	if a.json {
		if err := a.printVerifyJSON(files, results); err != nil {
			return withCode(exitUsage, err)
		}
	} else {
		color := isTerminal(a.stdout) && os.Getenv("NO_COLOR") == ""
		for _, r := range results {
			if r.err == nil {
				r.report.WriteText(a.stdout, color)
			}
		}
	}
	if len(ioErrs) > 0 {
		return withCode(exitUsage, errors.New(strings.Join(ioErrs, "; ")))
	}
	if f.reportPDF != "" {
		if err := writeReportPDF(ctx, a, f, files[0], results[0].report); err != nil {
			return err
		}
	}
	if code != exitOK {
		var bad []string
		for i, r := range results {
			if r.report.Indication != pades.TotalPassed {
				bad = append(bad, fmt.Sprintf("%s: %s", files[i], r.report.Indication))
			}
		}
		return withCode(code, fmt.Errorf("not every signature passed (%s)", strings.Join(bad, ", ")))
	}
	return nil
}

func verifyFile(ctx context.Context, path string, opts *pades.VerifyOptions) (*pades.Report, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errNotRegular
	}
	rep, err := pades.Verify(ctx, fh, st.Size(), opts)
	if err != nil {
		return nil, err
	}
	rep.File = path
	return rep, nil
}

func progressBar(done, total int) string {
	const width = 30
	n := done * width / total
	return fmt.Sprintf("verifying [%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}

// printVerifyJSON prints the one-file shape (a report, or {version, file,
// error}) or the several-files shape {version, indication, reports}.
func (a *app) printVerifyJSON(files []string, results []verifyResult) error {
	type fileError struct {
		Version string     `json:"version,omitempty"` // the one-file shape only
		File    string     `json:"file"`
		Error   *jsonError `json:"error"`
	}
	if len(files) == 1 {
		if r := results[0]; r.err != nil {
			return a.printJSON(fileError{pades.ReportVersion, files[0], newJSONError(inFile(files[0], r.err), exitUsage)})
		}
		return a.printReportJSON(results[0].report)
	}
	batch := struct {
		Version    string `json:"version"`
		Indication string `json:"indication,omitempty"`
		Reports    []any  `json:"reports"`
	}{Version: pades.ReportVersion, Reports: []any{}}
	rank := map[pades.Indication]int{pades.TotalPassed: 1, pades.NoSignatureFound: 2, pades.Indeterminate: 3, pades.TotalFailed: 4}
	for i, r := range results {
		if r.err != nil {
			batch.Reports = append(batch.Reports, fileError{File: files[i], Error: newJSONError(inFile(files[i], r.err), exitUsage)})
			continue
		}
		batch.Reports = append(batch.Reports, r.report)
		if rank[r.report.Indication] > rank[pades.Indication(batch.Indication)] {
			batch.Indication = string(r.report.Indication)
		}
	}
	return a.printJSON(batch)
}

// printReportJSON prints one report as the in-browser verifier returns it
// (verifyjson.Marshal: one shape for both).
func (a *app) printReportJSON(rep *pades.Report) error {
	b, err := verifyjson.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(b)
	return err
}
