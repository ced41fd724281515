package main

import (
	"context"
	"crypto/x509"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/store"
)

// systemAuth is how a registered system is known, as every service's
// `systems list` shows it (its JSON fields are inlined in the row).
type systemAuth struct {
	Auth       string `json:"auth"` // api-key or certificate
	CertIssuer string `json:"certIssuer,omitempty"`
	CertSerial string `json:"certSerial,omitempty"`
}

func authOf(cert *x509.Certificate) systemAuth {
	if cert == nil {
		return systemAuth{Auth: "api-key"}
	}
	return systemAuth{Auth: "certificate", CertIssuer: cert.Issuer.String(), CertSerial: cert.SerialNumber.Text(16)}
}

// column is the table's AUTH column.
func (s systemAuth) column() string {
	if s.CertSerial != "" {
		return "cert " + s.CertSerial + " (" + s.CertIssuer + ")"
	}
	return s.Auth
}

// newListCmd is a service's `list` of what is registered in the store:
// list reads the items, row makes each one's row, printed as a table under
// header by line, or as JSON with --json.
func newListCmd[S, R any](a *app, short string, list func(context.Context, *store.Store) ([]S, error), row func(S) R, header string, line func(R) string) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.open(cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			items, err := list(cmd.Context(), st)
			if err != nil {
				return withCode(exitFailed, err)
			}
			rows := make([]R, 0, len(items))
			for _, it := range items {
				rows = append(rows, row(it))
			}
			return printRows(a, rows, header, line)
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

// same is newListCmd's row for items printed as they are.
func same[T any](t T) T { return t }
