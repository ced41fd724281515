package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/testcerts"
)

// newDemoCmd runs the one-command demo on embedded defaults. It grows with
// the project: today it sets up the test PKI in the data directory.
func newDemoCmd(a *app) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the demo on embedded defaults (test PKI in --data)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pkiDir := filepath.Join(data, "pki")
			if _, err := os.Stat(filepath.Join(pkiDir, testcerts.IndexFile)); err != nil {
				pki, err := testcerts.Generate(testcerts.Options{})
				if err != nil {
					return withCode(exitFailed, err)
				}
				if _, err := pki.WriteDir(pkiDir); err != nil {
					return withCode(exitUsage, err)
				}
				a.say("generated a test PKI in %s\n", pkiDir)
			} else {
				a.say("using the test PKI in %s\n", pkiDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", ".data", "data directory (test PKI, database, outputs)")
	return cmd
}
