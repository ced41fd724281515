package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/pkcs11"
)

func newAgentCmd(a *app) *cobra.Command {
	var addr, module, label, serial, pinFile string
	var listenFD int
	var origins []string
	var yes bool
	cmd := &cobra.Command{
		Use:   "agent --origin URL [--origin URL ...] [--addr 127.0.0.1:PORT] [--module PATH] [--token-label L]",
		Short: "Run the local token agent: lets allowed web pages sign with your USB token, with your consent",
		Long: `Run the local token agent on your own machine, so that the signing pages of a
'semnat serve' site can sign with your USB token (PKCS#11).

How a web signature goes:
  1. the page asks its server to prepare the PDF; the server returns the
     digest to sign and a one-time nonce;
  2. the page sends the digest and nonce to this agent (POST /v1/sign on
     http://` + wire.DefaultAddr + ` by default); the agent shows you, on this
     terminal, which site asks, the document name, the digest and the
     certificate, and asks "Sign? [y/N]" and then the token PIN (no echo);
  3. the agent signs the digest, and also signs a binding of the site's
     origin, the nonce and the digest with the same key; the page sends
     both to its server, which completes the PDF only if the binding is for
     its own origin and the nonce it issued.

Security model:
  - it listens on loopback only (--addr must be 127.0.0.1, [::1] or
    localhost) and answers only requests whose Host is 127.0.0.1, localhost
    or [::1] on its port (a DNS-rebinding page gets 421);
  - it answers only the web origins given with --origin (exact scheme, host
    and port; CORS and Private Network Access preflights for those only);
    any other page, or a request without Origin, gets 403 and you see
    nothing;
  - every signature needs your "y" and your PIN, typed here; no login is kept
    between signatures, a wrong PIN is never retried, PINs are not logged;
  - one request is shown at a time; the signature is useless to any other
    site or request because of the binding.

Endpoints: GET /v1/info, GET /v1/certificates (the token's signing
certificates, no PIN needed), POST /v1/sign, POST /v1/authenticate (a login:
you are asked "Log in to SITE as NAME?" and the PIN; the agent signs only its
own login challenge for that site and the server's nonce, never a document
digest the page chose); errors are RFC 9457 problem
documents (types urn:semnat:problem:agent-*). See package agent/wire.

--listen-fd N serves on a loopback socket the parent process bound and
passed as file descriptor N (instead of binding --addr): a launcher or a
test that must know the address before the agent starts keeps it bound.

--yes signs without asking, with the PIN from --pin-file or $` + pkcs11.EnvPIN + `.
It is for automated tests only: any page on an allowed origin can then sign
anything with your key.`,
		Example: `  semnat agent --origin https://msign.example
  semnat agent --origin http://127.0.0.1:8480 --token-label "Ion Popescu" --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
  SEMNAT_PIN=1234 semnat agent --origin http://127.0.0.1:8480 --addr 127.0.0.1:0 --yes   # tests only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(origins) == 0 {
				return withCode(exitUsage, errors.New("--origin URL is required: the web origin of the signing page, e.g. --origin https://msign.example (repeat it for several)"))
			}
			for _, o := range origins {
				if _, err := agent.CanonicalOrigin(o); err != nil {
					return withCode(exitUsage, err)
				}
			}
			if !agent.IsLoopback(addr) {
				return withCode(exitUsage, fmt.Errorf("--addr %s: the agent listens on loopback only (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", addr))
			}
			var consent agent.ConsentFunc
			if yes {
				var src pkcs11.PINSource
				if pinFile != "" {
					src = pkcs11.PINFile(pinFile)
				} else if v, ok := os.LookupEnv(pkcs11.EnvPIN); ok && v != "" {
					src = pkcs11.PINEnv(pkcs11.EnvPIN)
				}
				if src == nil {
					return withCode(exitUsage, errors.New("--yes needs the PIN in --pin-file or $"+pkcs11.EnvPIN))
				}
				fmt.Fprintln(a.stderr, "semnat agent: WARNING: --yes: every request from an allowed origin is signed WITHOUT ASKING. For automated tests only; never use it with a real token.")
				consent = yesConsent(src, a.stderr)
			} else {
				if pinFile != "" {
					return withCode(exitUsage, errors.New("--pin-file is only for --yes: without it the agent asks the PIN on this terminal for every signature"))
				}
				consent = terminalConsent(a.stdin, a.stderr)
			}
			mod, err := pkcs11.Open(module)
			if err != nil {
				return tokenExit(err)
			}
			defer mod.Close()
			sel := pkcs11.TokenSelector{Label: label, Serial: serial}
			if slot, err := mod.FindToken(sel); err != nil {
				if errors.Is(err, pkcs11.ErrAmbiguous) {
					return tokenExit(err)
				}
				fmt.Fprintf(a.stderr, "semnat agent: %v; insert the token, the agent looks for it at each request\n", err)
			} else {
				a.log.Debug("agent token", "label", slot.Token.Label, "serial", slot.Token.Serial, "module", mod.Path())
			}
			ln, base, err := agentListener(addr, listenFD)
			if err != nil {
				return withCode(exitUsage, err)
			}
			_, p, _ := net.SplitHostPort(ln.Addr().String())
			port, _ := strconv.Atoi(p)
			ag, err := agent.New(agent.Options{Module: mod, Token: sel, Origins: origins, Port: port,
				Consent: consent, Version: buildVersion().Version, Log: a.log})
			if err != nil {
				ln.Close()
				return withCode(exitUsage, err)
			}
			ready := a.stdout
			if a.json {
				ready = a.stderr
			}
			return httpserve.ServeListener(cmd.Context(), ln, base, ag.Handler(), httpserve.Options{Ready: ready, Log: a.log})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", wire.DefaultAddr, "loopback address to listen on (port 0 picks a free one)")
	cmd.Flags().IntVar(&listenFD, "listen-fd", 0, "serve on the loopback listening socket inherited as this file descriptor (instead of --addr)")
	cmd.Flags().StringArrayVar(&origins, "origin", nil, "web origin allowed to use the agent, e.g. https://msign.example (repeatable; required)")
	cmd.Flags().StringVar(&module, "module", "", "PKCS#11 module (default $"+pkcs11.EnvModule+", then the usual SoftHSM2/OpenSC paths)")
	cmd.Flags().StringVar(&label, "token-label", "", "token label (default: the only token present)")
	cmd.Flags().StringVar(&serial, "token-serial", "", "token serial number")
	cmd.Flags().BoolVar(&yes, "yes", false, "TESTS ONLY: sign without asking, PIN from --pin-file or $"+pkcs11.EnvPIN)
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "with --yes: file holding the token PIN")
	return cmd
}

// yesConsent consents to everything (--yes), with the PIN from src.
func yesConsent(src pkcs11.PINSource, out io.Writer) agent.ConsentFunc {
	return func(ctx context.Context, p agent.Prompt) ([]byte, error) {
		if p.Login {
			fmt.Fprintf(out, "semnat agent: --yes: logging in to %s as %s without asking\n", p.Origin, agent.Sanitize(p.Subject))
		} else {
			fmt.Fprintf(out, "semnat agent: --yes: signing %q for %s with %s without asking\n",
				p.Document, p.Origin, agent.Sanitize(p.Subject))
		}
		return src.PIN(ctx, p.Token)
	}
}

// terminalConsent shows the request on out and reads the answer and then
// the PIN (without echo on a terminal) from in.
func terminalConsent(in io.Reader, out io.Writer) agent.ConsentFunc {
	return func(ctx context.Context, p agent.Prompt) ([]byte, error) {
		token := fmt.Sprintf("%q", p.Token.Label)
		if p.Token.Serial != "" {
			token += " (serial " + p.Token.Serial + ")"
		}
		if p.Login {
			fmt.Fprintf(out, "\n=== Login request ===\n"+
				"  site:        %s\n"+
				"  certificate: %s (id %s)\n"+
				"  token:       %s\n"+
				"  (nothing is signed but a login challenge for this site)\n",
				p.Origin, agent.Sanitize(p.Subject), p.CertificateID, agent.Sanitize(token))
			if !strings.HasPrefix(p.Origin, "https://") {
				fmt.Fprintln(out, "  (the site does not use HTTPS: log in only if you run it yourself)")
			}
			fmt.Fprintf(out, "Log in to %s as %s? [y/N]: ", p.Origin, agent.Sanitize(personName(p)))
		} else {
			fmt.Fprintf(out, "\n=== Signature request ===\n"+
				"  site:        %s\n"+
				"  document:    %s\n"+
				"  certificate: %s (id %s)\n"+
				"  token:       %s\n"+
				"  digest:      %s %s\n",
				p.Origin, p.Document, agent.Sanitize(p.Subject), p.CertificateID, agent.Sanitize(token), p.Hash, p.Digest)
			for i, b := range p.Batch { // one PIN for every document listed
				fmt.Fprintf(out, "  %2d. %s\n      digest %s %s\n", i+1, b.Document, b.Hash, b.Digest)
			}
			if !strings.HasPrefix(p.Origin, "https://") {
				fmt.Fprintln(out, "  (the site does not use HTTPS: sign only if you run it yourself)")
			}
			if len(p.Batch) > 0 {
				fmt.Fprintf(out, "Sign these %d documents for this site, with one PIN? [y/N]: ", len(p.Batch))
			} else {
				fmt.Fprint(out, "Sign this document for this site? [y/N]: ")
			}
		}
		line, err := secret.ReadLine(in, 64)
		if err != nil {
			fmt.Fprintln(out)
			return nil, fmt.Errorf("no answer on the agent's terminal: %w", err)
		}
		switch strings.ToLower(strings.TrimSpace(string(line))) {
		case "y", "yes", "d", "da":
		default:
			if p.Login {
				fmt.Fprintln(out, "Refused: not logged in.")
			} else {
				fmt.Fprintln(out, "Refused: nothing signed.")
			}
			return nil, agent.ErrRefused
		}
		if err := ctx.Err(); err != nil {
			fmt.Fprintln(out, "The page went away: nothing signed.")
			return nil, err
		}
		pin, err := pkcs11.PINPrompt(in, out).PIN(ctx, p.Token)
		if err != nil {
			return nil, err
		}
		return pin, nil
	}
}

// personName is the name a login prompt shows: the certificate's common
// name, else its subject.
func personName(p agent.Prompt) string {
	if p.Certificate != nil && p.Certificate.Subject.CommonName != "" {
		return p.Certificate.Subject.CommonName
	}
	return p.Subject
}

// agentListener binds addr, or (fd > 0) takes the listening socket the
// parent passed as file descriptor fd, which must be on loopback too.
func agentListener(addr string, fd int) (net.Listener, string, error) {
	if fd <= 0 {
		return httpserve.Listen(addr)
	}
	f := os.NewFile(uintptr(fd), "listen-fd")
	if f == nil {
		return nil, "", fmt.Errorf("--listen-fd %d: not an open file descriptor", fd)
	}
	defer f.Close() // net.FileListener dups it
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, "", fmt.Errorf("--listen-fd %d: not a listening socket: %w", fd, err)
	}
	if !agent.IsLoopback(ln.Addr().String()) {
		ln.Close()
		return nil, "", fmt.Errorf("--listen-fd %d: the socket listens on %s; the agent listens on loopback only", fd, ln.Addr())
	}
	return ln, "http://" + ln.Addr().String(), nil
}
