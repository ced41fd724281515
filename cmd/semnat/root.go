package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes shared by every command (README, "Exit codes").
const (
	exitOK            = 0 // success; for verify: every signature passed
	exitFailed        = 1 // the operation failed (a signature failed, a file could not be signed)
	exitIndeterminate = 2 // verify: no failure, but at least one signature is indeterminate
	exitUsage         = 3 // bad usage, unreadable input, I/O error
)

// exitError carries an exit code with its error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// app holds what every command shares: streams and global flags. No globals.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	json, verbose  bool
	log            *slog.Logger
	// listeners are bound sockets handed over to the serving commands by
	// address (--addr), for an embedding program or a test that must know
	// the address before the command starts: used instead of binding
	// --addr again, which another process could have taken meanwhile.
	listeners map[string]net.Listener
}

// listen binds addr, or takes the listener handed over for it.
func (a *app) listen(addr string) (net.Listener, string, error) {
	if ln, ok := a.listeners[addr]; ok {
		delete(a.listeners, addr)
		return ln, "http://" + ln.Addr().String(), nil
	}
	return httpserve.Listen(addr)
}

// printJSON writes v as indented JSON on stdout: with --json nothing else goes there.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printRows writes a listing: with --json the rows as a JSON array ([]
// when there are none), else a table of header and one line per row
// (tab-separated cells).
func printRows[T any](a *app, rows []T, header string, line func(T) string) error {
	if a.json {
		if rows == nil {
			rows = []T{}
		}
		return a.printJSON(rows)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, line(r))
	}
	return tw.Flush()
}

// say writes human-readable output on stdout (suppressed with --json).
func (a *app) say(format string, args ...any) {
	if !a.json {
		fmt.Fprintf(a.stdout, format, args...)
	}
}

// signalContext returns a context cancelled on SIGINT/SIGTERM.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "semnat",
		Short: "Sign and verify PDF documents (PAdES) and run the services around them",
		Long: `semnat signs PDF documents with PAdES signatures (B-B, B-T, B-LT, B-LTA) using
a key file, a PKCS#11 token or a mobile SIM signature, verifies them, and runs
the PKI services they need (RFC 3161 timestamps, OCSP, CRLs), and the
services that consume signatures: MSign, where citizens and registered
systems sign and verify ('semnat msign serve', with 'semnat agent' for USB
tokens in the browser), MPass, where people log in to relying services with
their signature (SAML 2.0, OpenID Connect), MPower, the registry of powers of
representation, MNotify, which notifies people (MCabinet inbox,
e-mail), MPay, the payment gateway, and the public-services portal,
where citizens apply for services and sign their applications
('semnat portal serve'). 'semnat serve --demo' runs all of them in one
process.

Global flags:  --json for machine-readable output on stdout,
               --verbose for log lines on stderr.
Exit codes (every command):
  0  success: signed, verified TOTAL-PASSED, certificate good
  1  failed: a file could not be signed, a signature TOTAL-FAILED, a
     certificate revoked, a timestamp, CRL or audit log that does not verify
  2  indeterminate: nothing failed but not everything could be decided
     (verify, or no signature; ocsp/crl check without a usable answer)
  3  usage or input error: a bad flag, an input missing, unreadable or not a
     PDF, a PKI, module or store not there, a network or I/O error
  With several files the code is the worst of them (3, then 1, then 2).`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelWarn
			if a.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.PersistentFlags().BoolVar(&a.json, "json", false, "machine-readable JSON on stdout")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log what happens on stderr")
	root.SetFlagErrorFunc(flagErrorWithSuggestion)
	root.SuggestionsMinimumDistance = 2

	root.AddCommand(
		newVersionCmd(a),
		newTestcertsCmd(a),
		newDemoCmd(a),
		newMobileIDCmd(a),
		newSignCmd(a),
		newTSACmd(a),
		newOCSPCmd(a),
		newTokenCmd(a),
		newCRLCmd(a),
		newVerifyCmd(a),
		newCACmd(a),
		newServeCmd(a),
		newMSignCmd(a),
		newMPassCmd(a),
		newMPowerCmd(a),
		newMNotifyCmd(a),
		newPortalCmd(a),
		newMPayCmd(a),
		newAgentCmd(a),
		newAuditCmd(a),
	)
	return root
}

// run executes the CLI and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	root := newRootCmd(a)
	root.SetArgs(args)
	ctx, cancel := signalContext(context.Background())
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "semnat: %v\n", err)
	if code == exitUsage && isUsageError(err) {
		fmt.Fprintln(stderr, "Run 'semnat --help' or 'semnat COMMAND --help' for usage.")
	}
	return code
}

func isUsageError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unknown command") || strings.Contains(s, "flag") || strings.Contains(s, "arg(s)")
}

// flagErrorWithSuggestion adds "did you mean --x?" to unknown-flag errors.
func flagErrorWithSuggestion(cmd *cobra.Command, err error) error {
	const prefix = "unknown flag: --"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	bad := strings.TrimPrefix(msg, prefix)
	type cand struct {
		name string
		d    int
	}
	var cands []cand
	visit := func(f *pflag.Flag) {
		d := levenshtein(bad, f.Name)
		if d <= 2 || strings.HasPrefix(f.Name, bad) || strings.HasPrefix(bad, f.Name) {
			cands = append(cands, cand{f.Name, d})
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	if len(cands) == 0 {
		return err
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].d < cands[j].d })
	return fmt.Errorf("%w (did you mean --%s?)", err, cands[0].name)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
