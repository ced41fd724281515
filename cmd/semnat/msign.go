package main

import (
	"github.com/spf13/cobra"
)

// msignRoutesHelp lists MSign's routes for the help of the commands that
// serve it.
const msignRoutesHelp = `  POST /api/v1/verifications   verify a PDF (the report of 'semnat verify --json')
  POST /api/v1/seal            seal a PDF with the organisation's key (X-API-Key
                               or a TLS client certificate)
  POST /api/v1/sign-requests   sign PDFs with a mobile signature or a USB token
  /sign, /verify               web pages: sign and verify in a browser
  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics
  /api/openapi.json            the API description
`

func newMSignCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "msign",
		Short: "MSign: signing for people and for registered systems, and verification",
		Long: `MSign signs PDFs for people (mobile signature or USB token, on its web
pages or through the citizen API) and for registered systems, and verifies
signed documents. 'semnat msign serve' runs it alone; 'semnat serve --demo'
runs it beside the other services.`,
	}
	cmd.AddCommand(newMSignServeCmd(a))
	return cmd
}

func newMSignServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --trust PEM [--p12 FILE | --token ...] [--tsa URL] [--mssp URL] ...",
		Short: "Run MSign alone: sign and verify pages and API, seal API",
		Long: `Run MSign as a service of its own:

` + msignRoutesHelp + `
It reaches the timestamp authority (--tsa) and the mobile signature service
(--mssp) over HTTP, wherever they run. The settings are those of 'semnat
serve' without --demo: each a flag, $SEMNAT_NAME or a NAME = VALUE line of
the --config file; --print-config shows them.`,
		Example: `  semnat msign serve --trust roots/ --p12 seal.p12 --p12-pass-file /run/secrets/p12 --tsa https://tsa.example/ --mssp https://mssp.example/rest/service
  semnat msign serve --config /etc/semnat/msign.conf --print-config`,
		Args: cobra.NoArgs,
	}
	f.bind(a, cmd, false)
	return cmd
}
