// Command semnat signs and verifies PDF documents (PAdES), runs the PKI
// services signatures need (timestamps, OCSP, CRLs) and the services that
// consume signatures. `semnat --help` lists the commands.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
