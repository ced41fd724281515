package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/semnat/semnat/internal/atomicfile"
	"github.com/semnat/semnat/store"
	"github.com/spf13/cobra"
)

func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check and export the hash-chained audit log of the store",
		Long: `Every signature, seal, grant, revocation and payment is recorded in the
store's append-only audit log, each entry chained to the one before it by a
SHA-256 hash. 'audit verify' recomputes the chain and names the first entry
that does not fit; 'audit export' writes the log as JSON lines for archiving.`,
	}
	cmd.AddCommand(newAuditVerifyCmd(a), newAuditExportCmd(a))
	return cmd
}

// auditVerifyResult is what 'audit verify --json' prints.
type auditVerifyResult struct {
	Valid     bool   `json:"valid"`
	Entries   int64  `json:"entries"`
	FirstBad  int64  `json:"first_bad_entry,omitempty"`
	Reason    string `json:"reason,omitempty"`
	LastHash  string `json:"last_hash,omitempty"`
	CheckedAt string `json:"checked_at"`
	StoreKind string `json:"store"`
}

func newAuditVerifyCmd(a *app) *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's hash chain; exit 1 naming the first broken entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.openExisting(cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			res := auditVerifyResult{CheckedAt: time.Now().UTC().Format(time.RFC3339), StoreKind: st.Backend()}
			var last []byte
			n, verr := st.VerifyAudit(cmd.Context())
			res.Entries = n
			var brk *store.AuditBreak
			switch {
			case errors.As(verr, &brk):
				res.FirstBad, res.Reason = brk.Seq, brk.Reason
			case verr != nil:
				return withCode(exitUsage, verr)
			default:
				res.Valid = true
				if n > 0 {
					_ = st.WalkAudit(cmd.Context(), func(e *store.Entry) error { last = e.Hash; return nil })
					res.LastHash = hex.EncodeToString(last)
				}
			}
			if a.json {
				if err := a.printJSON(res); err != nil {
					return err
				}
			} else if res.Valid {
				a.say("audit log valid: %d entries", n)
				if res.LastHash != "" {
					a.say(", last hash %s", res.LastHash)
				}
				a.say("\n")
			}
			if !res.Valid {
				return withCode(exitFailed, fmt.Errorf("audit log broken at entry %d: it %s (%d entries before it verify)", res.FirstBad, res.Reason, n))
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// auditLine is one exported entry (JSON lines): every field the hash covers,
// so that an archive can be re-verified without the database.
type auditLine struct {
	Seq      int64             `json:"seq"`
	At       string            `json:"at"` // RFC 3339 with nanoseconds, UTC
	Actor    string            `json:"actor"`
	Action   string            `json:"action"`
	Subject  string            `json:"subject"`
	Digest   string            `json:"digest,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

func newAuditExportCmd(a *app) *cobra.Command {
	var f storeFlags
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the audit log as JSON lines (stdout, or -o FILE written atomically)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.openExisting(cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			write := func(w io.Writer) error {
				bw := bufio.NewWriter(w)
				enc := json.NewEncoder(bw)
				if err := st.WalkAudit(cmd.Context(), func(e *store.Entry) error {
					return enc.Encode(auditLine{
						Seq: e.Seq, At: e.At.Format(time.RFC3339Nano), Actor: e.Actor, Action: e.Action,
						Subject: e.Subject, Digest: e.Digest, Details: e.Details,
						PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
					})
				}); err != nil {
					return err
				}
				return bw.Flush()
			}
			if out == "" || out == "-" {
				return write(a.stdout)
			}
			if err := atomicfile.Write(out, 0o600, write); err != nil {
				return withCode(exitUsage, err)
			}
			a.say("audit log written to %s\n", out)
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to FILE (mode 0600) instead of stdout")
	return cmd
}
