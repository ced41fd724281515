package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/testcerts"
)

func newMobileIDCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mobileid",
		Short: "Mobile (SIM) signature: MSSP simulator, virtual phone, client",
	}
	cmd.AddCommand(newMobileIDServeCmd(a), newMobileIDPhoneCmd(a), newMobileIDSignHashCmd(a))
	return cmd
}

func newMobileIDServeCmd(a *app) *cobra.Command {
	var addr, pkiDir, usersFile string
	var phone bool
	var generated int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the MSSP simulator (Mobile-ID /mid-api and ETSI /rest/service faces)",
		Long: `Run the MSSP simulator. SIM certificates come from the mobile-signature CA of
--pki (a directory written by 'semnat testcerts generate'), or of a PKI
generated in memory. Faces:

  /mid-api/...       SK Mobile-ID REST (relying party DEMO, UUID all zeros)
  /rest/service/...  ETSI TS 102 204 REST/JSON (AP_ID ` + mobileid.DefaultAPID + `, AP_PWD ` + mobileid.DefaultAPPassword + `)
  /sim/MSISDN        virtual phone page and API (with --phone)

Scripted test users +37300000001 ... +37300000041 act by themselves (see
mobileid/README.md); users from --users and the generated users
+37369000000 ... wait for the virtual phone.`,
		Example: `  semnat mobileid serve --addr 127.0.0.1:8490 --phone
  semnat mobileid serve --pki ./pki --users users.json --phone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pki *testcerts.PKI
			var err error
			if pkiDir != "" {
				pki, err = testcerts.Load(pkiDir)
			} else {
				pki, err = testcerts.Generate(testcerts.Options{})
			}
			if err != nil {
				return withCode(exitUsage, err)
			}
			opts := mobileid.Options{PKI: pki, Phone: phone, GeneratedUsers: generated, Log: a.log}
			if usersFile != "" {
				data, err := os.ReadFile(usersFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if opts.Users, err = mobileid.ParseUsers(data); err != nil {
					return withCode(exitUsage, err)
				}
			}
			sim, err := mobileid.New(opts)
			if err != nil {
				return withCode(exitFailed, err)
			}
			defer sim.Close()
			ready := a.stdout
			if a.json {
				ready = a.stderr
			}
			return httpserve.Serve(cmd.Context(), addr, sim.Handler(), httpserve.Options{Ready: ready, Log: a.log,
				OnListen: func(base string) {
					if phone {
						a.log.Info("virtual phone", "example", base+"/sim/+37369000000")
					}
				}})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8490", "address to listen on (port 0 picks a free one)")
	cmd.Flags().StringVar(&pkiDir, "pki", "", "test PKI directory (default: generate one in memory)")
	cmd.Flags().StringVar(&usersFile, "users", "", `JSON users file: {"users": [{"msisdn": ..., "given_name": ..., ...}]}`)
	cmd.Flags().BoolVar(&phone, "phone", false, "enable the virtual phone (/sim/MSISDN)")
	cmd.Flags().IntVar(&generated, "generated-users", 1000, "number of generated manual users +37369000000...")
	return cmd
}

func newMobileIDPhoneCmd(a *app) *cobra.Command {
	var base, pinFile string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "phone MSISDN approve|cancel|state|prompt",
		Short: "Drive the simulator's virtual phone",
		Long: `Drive the virtual phone of 'semnat mobileid serve --phone'. approve enters the
PIN (from --pin-file, else $SEMNAT_SIM_PIN, else the test default: 12345 for
signatures, 1234 for authentication); approve and cancel wait up to --wait
for a request to show on the phone.`,
		Example: `  semnat mobileid phone +37369000000 approve
  SEMNAT_SIM_PIN=54321 semnat mobileid phone +37369000001 approve --url http://127.0.0.1:8490`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, action := args[0], args[1]
			u := strings.TrimRight(base, "/") + "/sim/" + msisdn
			ctx := cmd.Context()
			get := func(path string, out any) error { return phoneCall(ctx, "GET", u+path, nil, out) }
			switch action {
			case "state", "prompt":
				var out map[string]any
				if err := get("/"+action, &out); err != nil {
					return withCode(exitFailed, err)
				}
				if a.json {
					return a.printJSON(out)
				}
				keys := []string{"msisdn", "name", "pending", "requester", "display_text", "verification_code", "state", "pin2_tries_left", "last_result"}
				for _, k := range keys {
					if v, ok := out[k]; ok {
						a.say("%-18s %v\n", k+":", v)
					}
				}
				return nil
			case "approve", "cancel":
			default:
				return withCode(exitUsage, fmt.Errorf("unknown action %q (want approve, cancel, state or prompt)", action))
			}
			var prompt mobileid.Prompt
			deadline := time.Now().Add(wait)
			for {
				if err := get("/prompt", &prompt); err != nil {
					return withCode(exitFailed, err)
				}
				if prompt.Pending || time.Now().After(deadline) {
					break
				}
				select {
				case <-ctx.Done():
					return withCode(exitFailed, ctx.Err())
				case <-time.After(250 * time.Millisecond):
				}
			}
			if !prompt.Pending {
				return withCode(exitFailed, fmt.Errorf("no request is waiting on %s", msisdn))
			}
			a.say("%s asks: %q, verification code %s\n", prompt.Requester, prompt.DisplayText, prompt.VerificationCode)
			var out map[string]any
			if action == "cancel" {
				if err := phoneCall(ctx, "POST", u+"/cancel", struct{}{}, &out); err != nil {
					return withCode(exitFailed, err)
				}
			} else {
				pin, err := simPIN(pinFile, prompt.Kind)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if err := phoneCall(ctx, "POST", u+"/confirm", map[string]string{"pin": pin}, &out); err != nil {
					return withCode(exitFailed, err)
				}
			}
			if a.json {
				return a.printJSON(out)
			}
			a.say("%v\n", out["result"])
			if out["result"] != mobileid.PhoneSigned && out["result"] != mobileid.PhoneCancelled {
				return withCode(exitFailed, fmt.Errorf("phone answered %v", out["result"]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "url", "http://127.0.0.1:8490", "simulator base URL")
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "file holding the SIM PIN")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long approve/cancel wait for a request")
	return cmd
}

func simPIN(file, kind string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	if p := os.Getenv("SEMNAT_SIM_PIN"); p != "" {
		return p, nil
	}
	if kind == "auth" {
		return mobileid.DefaultPIN1, nil
	}
	return mobileid.DefaultPIN2, nil
}

func phoneCall(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("virtual phone: %w (is 'semnat mobileid serve --phone' running?)", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return fmt.Errorf("virtual phone: %s (HTTP %d)", e.Error, resp.StatusCode)
	}
	return json.Unmarshal(raw, out)
}

func newMobileIDSignHashCmd(a *app) *cobra.Command {
	var base, face, idnp, hashHex, text, trust string
	var auth bool
	cmd := &cobra.Command{
		Use:   "sign-hash MSISDN",
		Short: "Ask a phone to sign a SHA-256 hash (debugging the client and an MSSP)",
		Example: `  semnat mobileid sign-hash +37300000001 --idnp 2004005000014 --trust <(cat ./pki/trust-anchors.pem ./pki/mobile-p256/chain.pem)
  semnat mobileid sign-hash +37300000002 --face etsi --url http://127.0.0.1:8490/rest/service --trust <(cat ./pki/trust-anchors.pem ./pki/mobile-p256/chain.pem)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if trust == "" {
				return withCode(exitUsage, errors.New("--trust FILE (PEM trust anchors, e.g. PKI/trust-anchors.pem) is required"))
			}
			pem, err := os.ReadFile(trust)
			if err != nil {
				return withCode(exitUsage, err)
			}
			roots, err := keyfile.ParseCerts(pem)
			if err != nil || len(roots) == 0 {
				return withCode(exitUsage, fmt.Errorf("%s: no PEM certificates", trust))
			}
			opts := mobileid.ClientOptions{Face: mobileid.Face(face), Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool()}
			for _, c := range roots { // self-signed: anchors; others: intermediates
				if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
					opts.Roots.AddCert(c)
				} else {
					opts.Intermediates.AddCert(c)
				}
			}
			if base == "" {
				base = "http://127.0.0.1:8490/mid-api"
				if face == string(mobileid.FaceETSI) {
					base = "http://127.0.0.1:8490/rest/service"
				}
			}
			c, err := mobileid.NewClient(base, opts)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var digest []byte
			if hashHex != "" {
				if digest, err = hex.DecodeString(hashHex); err != nil || len(digest) != 32 {
					return withCode(exitUsage, errors.New("--hash must be 64 hex digits (SHA-256)"))
				}
			} else {
				d := crypto.SHA256.New()
				fmt.Fprintf(d, "semnat sign-hash %d", time.Now().UnixNano())
				digest = d.Sum(nil)
			}
			ctx := cmd.Context()
			var p *mobileid.Pending
			if auth {
				p, err = c.StartAuthentication(ctx, mobileid.AuthRequest{MSISDN: args[0], IDNP: idnp, DisplayText: text})
			} else {
				p, err = c.Start(ctx, mobileid.SignRequest{MSISDN: args[0], IDNP: idnp, Digest: digest, Hash: crypto.SHA256, DisplayText: text})
			}
			if err != nil {
				return withCode(exitFailed, err)
			}
			if !a.json {
				fmt.Fprintf(a.stderr, "verification code: %s — check that the phone shows the same code\n", p.VerificationCode())
			}
			res, err := p.Wait(ctx)
			if err != nil {
				return withCode(exitFailed, err)
			}
			out := map[string]any{"verification_code": p.VerificationCode(), "transaction": res.Transaction,
				"digest": hex.EncodeToString(res.Digest), "signature": base64.StdEncoding.EncodeToString(res.Signature),
				"certificate_subject": res.Certificate.Subject.String()}
			if a.json {
				return a.printJSON(out)
			}
			a.say("signed by %s\nsignature (base64): %s\n", res.Certificate.Subject, out["signature"])
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "url", "", "face URL (default http://127.0.0.1:8490/mid-api, or .../rest/service with --face etsi)")
	cmd.Flags().StringVar(&face, "face", "mid", "protocol face: mid or etsi")
	cmd.Flags().StringVar(&idnp, "idnp", "", "IDNP of the user (required by the Mobile-ID face)")
	cmd.Flags().StringVar(&hashHex, "hash", "", "SHA-256 hash to sign, hex (default: a fresh one)")
	cmd.Flags().StringVar(&text, "text", "semnat: sign?", "text shown on the phone")
	cmd.Flags().StringVar(&trust, "trust", "", "PEM file of trust anchors (self-signed) and intermediate CA certificates")
	cmd.Flags().BoolVar(&auth, "auth", false, "authenticate instead of signing")
	return cmd
}
