package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pades/appearance"
	"github.com/semnat/semnat/tsa"
)

// signFlags are the flags of `semnat sign`.
type signFlags struct {
	out, outDir               string
	keys                      keyFlags
	level, hash               string
	pss                       bool
	tsaURL                    string
	visible                   string
	field                     string
	newField                  bool
	certify                   int
	reason, location, contact string
	name                      string
	lockAll                   bool
	lockFields                []string
	jobs                      int
	force                     bool
	trust                     []string
	mobile                    *mobileSource
	password                  pdfPassword
	repair                    bool
}

func newSignCmd(a *app) *cobra.Command {
	f := &signFlags{}
	cmd := &cobra.Command{
		Use:   "sign IN.pdf... (-o OUT.pdf | --out-dir DIR)",
		Short: "Sign PDF documents (PAdES B-B, B-T, B-LT, B-LTA)",
		Long: `Sign one PDF into -o OUT.pdf ("-" for stdout), or many into --out-dir DIR
with a pool of workers: one failure does not stop the others, and each is
reported.

The signing key comes from a PKCS#12 file (--p12, password from
--p12-pass-file, $SEMNAT_P12_PASSWORD or a prompt) or PEM files
(--key/--cert/--chain).

Encrypted PDFs (RC4, AES-128, AES-256) are signed in place of their
encryption: the update is encrypted with the file's key. A file anyone may
open needs no password; otherwise give the user or owner password with
--password-file, $SEMNAT_PDF_PASSWORD, or type it at the prompt. Without the
owner password, the file's permissions must allow form filling or
annotations.

A damaged PDF (broken cross-reference table) is refused: readers may not
agree on what it shows. With --repair, a damaged PDF that holds no signature
is rewritten from its objects and the rewrite is signed; the output line says
so. A damaged PDF that is already signed stays refused.

Levels: B-B (signature only), B-T (+ signature timestamp from --tsa),
B-LT (+ certificates, OCSP responses and CRLs in the document security store),
B-LTA (+ a document timestamp). The output is written to a temporary file and
renamed into place when complete: a failure never leaves a partial file.

Field: the signature goes into the first empty signature field of the
document (one with a rectangle for --visible, drawn in that rectangle), so
that a certified form keeps its permissions; --field NAME picks the field
(created if missing), --new-field always creates a new one.

--json prints the result (schema "semnat-sign/1", snake_case): for one
input {version, input, output, level ("B-T"), field, size, byte_range,
contents_size, signature_size, timestamp_time, doc_timestamp_time,
repaired, seconds}, times only when the level has them, or {version,
input, seconds, error: {message, exit_code}}; for several {version,
signed, failed, results: [...]}.

Exit codes: 0 all signed, 1 a file could not be signed, 3 usage error or an
input missing, unreadable or not a PDF (the worst of the files).`,
		Example: `  semnat sign contract.pdf -o contract-signed.pdf --p12 me.p12
  semnat sign in.pdf -o out.pdf --key key.pem --cert cert.pem --chain chain.pem --level B-T --tsa http://127.0.0.1:8480/tsa
  semnat sign *.pdf --out-dir signed/ --p12 seal.p12 --p12-pass-file pw.txt --jobs 4
  semnat sign in.pdf -o out.pdf --p12 me.p12 --visible page=1,rect=50,50,300,120 --reason "Aprobat" --location "Chișinău"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.mobile != nil && f.mobile.active() && !cmd.Flags().Changed("level") {
				f.level = "B-T" // a phone signature carries its time: B-T by default
			}
			return runSign(cmd.Context(), a, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "out", "o", "", `output file for one input ("-" for stdout)`)
	fl.StringVar(&f.outDir, "out-dir", "", "output directory for many inputs (same file names)")
	f.keys.register(fl)
	fl.StringVar(&f.level, "level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA (B-T by default with --mobile)")
	fl.StringVar(&f.hash, "hash", "sha256", "digest: sha256, sha384 or sha512")
	fl.BoolVar(&f.pss, "pss", false, "sign RSA keys with RSA-PSS")
	fl.StringVar(&f.tsaURL, "tsa", "", "RFC 3161 timestamp authority URL (B-T and up)")
	fl.StringVar(&f.visible, "visible", "", "visible signature: "+visibleSyntax+" (an opaque white stamp by default; it must lie within the page)")
	fl.StringVar(&f.field, "field", "", "signature field to fill (created if missing; default: the first empty signature field, else a new one)")
	fl.BoolVar(&f.newField, "new-field", false, "create a new signature field even when the document has an empty one")
	fl.IntVar(&f.certify, "certify", 0, "certification signature with DocMDP permission 1, 2 or 3")
	fl.StringVar(&f.reason, "reason", "", "reason for signing")
	fl.StringVar(&f.location, "location", "", "where the document was signed")
	fl.StringVar(&f.contact, "contact", "", "signer's contact information")
	fl.StringVar(&f.name, "name", "", "signer name written in the signature dictionary")
	fl.BoolVar(&f.lockAll, "lock-all", false, "lock all form fields once signed (FieldMDP All)")
	fl.StringSliceVar(&f.lockFields, "lock-fields", nil, "lock these form fields once signed (FieldMDP Include)")
	fl.IntVar(&f.jobs, "jobs", runtime.NumCPU(), "parallel workers for many inputs")
	fl.BoolVar(&f.force, "force", false, "overwrite existing output files")
	fl.StringSliceVar(&f.trust, "trust", nil, "PEM trust anchors: stored in the DSS at B-LT; with --mobile, what the phone's certificate must chain to")
	f.mobile = newMobileSource(fl, &f.trust)
	f.password.register(fl)
	fl.BoolVar(&f.repair, "repair", false, "rewrite a damaged PDF that holds no signature yet, then sign the rewrite (you are told when it happens)")
	return cmd
}

// signJob is one input and where it goes.
type signJob struct {
	in, out string
}

type signOutcome struct {
	In  string `json:"input"`
	Out string `json:"output,omitempty"`
	// Repaired says why a damaged input was rewritten before signing.
	Repaired []string      `json:"repaired,omitempty"`
	Error    string        `json:"error,omitempty"`
	Result   *pades.Result `json:"result,omitempty"`
	Took     float64       `json:"seconds"`
	err      error
}

func runSign(ctx context.Context, a *app, f *signFlags, args []string) error {
	opts, err := f.options()
	if err != nil {
		return withCode(exitUsage, err)
	}
	jobs, err := f.plan(args)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := f.password.load(); err != nil {
		return withCode(exitUsage, err)
	}
	defer f.password.wipe()
	signer, closeSigner, err := f.openSigner(ctx, a)
	if err != nil {
		return err
	}
	defer closeSigner()
	if err := f.addServices(opts, signer); err != nil {
		return withCode(exitUsage, err)
	}
	outcomes := signAll(ctx, a, jobs, signer, opts, &f.password, f.repair, max(f.jobs, 1))
	failed := 0
	for _, o := range outcomes {
		if o.err != nil {
			failed++
		}
	}
	if a.json {
		if err := a.printSignJSON(outcomes); err != nil {
			return withCode(exitUsage, err)
		}
	} else {
		for _, o := range outcomes {
			if o.err != nil {
				if len(outcomes) > 1 { // a single failure is the command's error
					fmt.Fprintf(a.stderr, "FAILED %s: %v\n", o.In, o.err)
				}
				continue
			}
			if len(o.Repaired) > 0 {
				fmt.Fprintf(a.stderr, "%s was damaged (%s): it was rewritten, and the rewrite signed\n", o.In, strings.Join(o.Repaired, "; "))
			}
			if o.Out != "-" {
				a.say("signed %s -> %s (%s, field %s, %d/%d signature bytes, %.2fs)\n", o.In, o.Out,
					o.Result.Level, o.Result.Field, o.Result.SignatureSize, o.Result.ContentsSize, o.Took)
			}
		}
		if len(outcomes) > 1 {
			a.say("%d signed, %d failed\n", len(outcomes)-failed, failed)
		}
	}
	// The worst code wins: 3 (an input missing or not a PDF) over 1.
	code := exitOK
	for _, o := range outcomes {
		if o.err != nil {
			code = max(code, inputCode(o.err))
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(outcomes) == 1:
		return withCode(code, outcomes[0].err)
	default:
		return withCode(code, fmt.Errorf("%d of %d files failed", failed, len(outcomes)))
	}
}

// plan maps inputs to outputs and refuses to overwrite without --force.
func (f *signFlags) plan(args []string) ([]signJob, error) {
	var jobs []signJob
	switch {
	case f.out != "" && f.outDir != "":
		return nil, errors.New("give -o for one input or --out-dir for many, not both")
	case f.out != "":
		if len(args) != 1 {
			return nil, fmt.Errorf("-o takes one input, got %d (use --out-dir DIR for many)", len(args))
		}
		jobs = []signJob{{args[0], f.out}}
	case f.outDir != "":
		if err := os.MkdirAll(f.outDir, 0o755); err != nil {
			return nil, err
		}
		seen := map[string]string{}
		for _, in := range args {
			out := filepath.Join(f.outDir, filepath.Base(in))
			if prev, dup := seen[out]; dup {
				return nil, fmt.Errorf("%s and %s would both be written to %s", prev, in, out)
			}
			seen[out] = in
			jobs = append(jobs, signJob{in, out})
		}
	default:
		return nil, errors.New("say where to write: -o OUT.pdf (or - for stdout) or --out-dir DIR")
	}
	if len(jobs) == 1 {
		// One input: refuse a wrong one before asking for a key or PIN.
		// (A batch reports each bad input and signs the others.)
		if err := checkPDFInput(jobs[0].in); err != nil {
			return nil, err
		}
	}
	for _, j := range jobs {
		if j.out == "-" {
			continue
		}
		if abs1, abs2 := absPath(j.in), absPath(j.out); abs1 == abs2 {
			return nil, fmt.Errorf("%s: the output would overwrite the input", j.in)
		}
		if _, err := os.Stat(j.out); err == nil && !f.force {
			return nil, fmt.Errorf("%s exists (use --force to overwrite)", j.out)
		}
	}
	return jobs, nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func (f *signFlags) options() (*pades.Options, error) {
	lvl, err := pades.ParseLevel(f.level)
	if err != nil {
		return nil, err
	}
	o := &pades.Options{Level: lvl, PSS: f.pss, Reason: f.reason, Location: f.location, ContactInfo: f.contact,
		Name: f.name, Field: f.field, NewField: f.newField, Certify: f.certify}
	switch strings.ToLower(strings.ReplaceAll(f.hash, "-", "")) {
	case "sha256":
		o.Hash = crypto.SHA256
	case "sha384":
		o.Hash = crypto.SHA384
	case "sha512":
		o.Hash = crypto.SHA512
	default:
		return nil, fmt.Errorf("--hash %q: want sha256, sha384 or sha512", f.hash)
	}
	if f.visible != "" {
		if o.Visible, err = parseVisible(f.visible); err != nil {
			return nil, err
		}
	}
	switch {
	case f.lockAll && len(f.lockFields) > 0:
		return nil, errors.New("--lock-all and --lock-fields exclude each other")
	case f.lockAll:
		o.Lock = &pades.FieldLock{Action: "All"}
	case len(f.lockFields) > 0:
		o.Lock = &pades.FieldLock{Action: "Include", Fields: f.lockFields}
	}
	if lvl >= pades.LevelBT && f.tsaURL == "" {
		return nil, fmt.Errorf("--level %s needs --tsa URL", lvl)
	}
	return o, nil
}

// visibleSyntax is what --visible takes.
const visibleSyntax = "page=N,rect=x1,y1,x2,y2 or page=N,corner=bottom-right[,image=FILE][,background=#rrggbb|none][,border=#rrggbb]"

// parseVisible reads --visible (visibleSyntax).
func parseVisible(s string) (*pades.Visible, error) {
	v := &pades.Visible{Page: 1}
	parts := strings.Split(s, ",")
	haveRect := false
	for i := 0; i < len(parts); i++ {
		k, val, ok := strings.Cut(parts[i], "=")
		if !ok {
			return nil, fmt.Errorf("--visible: %q is not key=value (want %s)", parts[i], visibleSyntax)
		}
		switch k {
		case "page":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--visible: page %q is not a page number", val)
			}
			v.Page = n
		case "rect":
			if i+3 >= len(parts) {
				return nil, errors.New("--visible: rect needs four numbers x1,y1,x2,y2")
			}
			nums := append([]string{val}, parts[i+1:i+4]...)
			for j, n := range nums {
				x, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
				if err != nil {
					return nil, fmt.Errorf("--visible: rect value %q is not a number", n)
				}
				v.Rect[j] = x
			}
			i += 3
			haveRect = true
		case "corner":
			switch val {
			case "bottom-left", "bottom-right", "top-left", "top-right":
				v.Corner = val
			default:
				return nil, fmt.Errorf("--visible: corner %q: want bottom-left, bottom-right, top-left or top-right", val)
			}
		case "background", "border":
			if k == "background" && val == "none" {
				v.Transparent = true
				continue
			}
			c, err := appearance.ParseRGB(val)
			if err != nil {
				return nil, fmt.Errorf("--visible: %s: %w", k, err)
			}
			if k == "background" {
				v.Background = &c
			} else {
				v.Border = &c
			}
		case "image":
			img, err := os.ReadFile(val)
			if err != nil {
				return nil, fmt.Errorf("--visible: image: %w", err)
			}
			v.Image = img
		default:
			return nil, fmt.Errorf("--visible: unknown key %q (want page, rect, corner, image, background, border)", k)
		}
	}
	if !haveRect && v.Corner == "" {
		return nil, fmt.Errorf("--visible: rect=x1,y1,x2,y2 or corner=… is required (%s)", visibleSyntax)
	}
	return v, nil
}

// openSigner loads the signing key from the flags: the phone, or a key.
func (f *signFlags) openSigner(ctx context.Context, a *app) (pades.Signer, func(), error) {
	if f.mobile.active() {
		return f.mobile.open(ctx, a)
	}
	return f.keys.open(ctx, a, "--mobile")
}

// signAll signs the jobs with a pool of workers and a progress line on a
// terminal. Results keep the order of the inputs.
func signAll(ctx context.Context, a *app, jobs []signJob, s pades.Signer, opts *pades.Options, pw *pdfPassword, repair bool, workers int) []signOutcome {
	out := make([]signOutcome, len(jobs))
	progress := len(jobs) > 1 && !a.json && isTerminal(a.stderr)
	skipped := forEach(ctx, a, len(jobs), workers, progress, func(finished, i int) string {
		return fmt.Sprintf("signing %d/%d %-40.40s", finished, len(jobs), filepath.Base(jobs[i].in))
	}, func(i int) {
		j := jobs[i]
		start := time.Now()
		var res *pades.Result
		var repaired []string
		err := pw.do(a, j.in, func(password []byte) error {
			o := *opts
			o.Password = password
			var err error
			res, err = signOne(ctx, a, j, s, &o)
			if errors.Is(err, pades.ErrDamaged) {
				if !repair {
					return fmt.Errorf("%w (--repair rewrites a damaged file that holds no signature, then signs it)", err)
				}
				res, repaired, err = repairAndSign(ctx, a, j, s, &o)
			}
			return err
		})
		o := signOutcome{In: j.in, Out: j.out, Result: res, Repaired: repaired, Took: time.Since(start).Seconds(), err: err}
		if err != nil {
			o.Error, o.Out, o.Result = err.Error(), "", nil
		}
		out[i] = o
	})
	for _, i := range skipped {
		out[i] = signOutcome{In: jobs[i].in, Error: ctx.Err().Error(), err: ctx.Err()}
	}
	return out
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// addServices connects the timestamp authority and revocation sources the
// level needs.
func (f *signFlags) addServices(o *pades.Options, s pades.Signer) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	if f.tsaURL != "" {
		o.Timestamper = pades.TSA{Client: &tsa.Client{URL: f.tsaURL, HTTPClient: hc}}
	}
	if o.Level >= pades.LevelBLT {
		o.Revocation = pades.OnlineRevocation{HTTP: hc}
		for _, p := range f.trust {
			certs, err := keyfile.LoadCerts(p)
			if err != nil {
				return fmt.Errorf("--trust: %w", err)
			}
			for _, c := range certs {
				o.ExtraCerts = append(o.ExtraCerts, c.Raw)
			}
		}
	}
	return nil
}

// signOne signs one job; "-" writes to the command's stdout.
func signOne(ctx context.Context, a *app, j signJob, s pades.Signer, opts *pades.Options) (*pades.Result, error) {
	if j.out != "-" {
		return pades.SignFile(ctx, j.in, j.out, s, opts)
	}
	f, err := os.Open(j.in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return pades.Sign(ctx, f, st.Size(), a.stdout, s, opts)
}

// repairAndSign rewrites the damaged input j.in into a temporary file next
// to the output (or in the temporary directory for stdout), signs that, and
// removes it.
func repairAndSign(ctx context.Context, a *app, j signJob, s pades.Signer, opts *pades.Options) (*pades.Result, []string, error) {
	dir := os.TempDir()
	if j.out != "-" {
		dir = filepath.Dir(j.out)
	}
	tmp, err := os.CreateTemp(dir, ".semnat-repaired-*.pdf")
	if err != nil {
		return nil, nil, err
	}
	name := tmp.Name()
	tmp.Close()
	defer os.Remove(name)
	reasons, err := pades.RepairFile(j.in, name, opts.Password)
	if err != nil {
		return nil, nil, err
	}
	res, err := signOne(ctx, a, signJob{in: name, out: j.out}, s, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the rewritten file: %w", err)
	}
	return res, reasons, nil
}
