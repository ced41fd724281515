package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/store"
)

// The demo SP speaking MPay's SOAP face (WS-Security), next to the REST one.
const (
	demoSOAPSPID   = "DEMO02"
	demoSOAPSPPath = "/demo-mpay-soap"
)

// mountDemoSOAPSP mounts a second demo SP at /demo-mpay-soap/, its SOAP
// endpoint (IServiceProvider, mpayclient.SOAPHandler) at /demo-mpay-soap/soap,
// registered with --face soap under an RSA key made at this start. MPay's
// key must be RSA for the SOAP face; with another key it is left out.
func mountDemoSOAPSP(ctx context.Context, srv *server.Server, st *store.Store, base string, mpayCert *x509.Certificate) error {
	if _, ok := mpayCert.PublicKey.(*rsa.PublicKey); !ok {
		return nil
	}
	signer, cert, err := demosp.NewRSAKey(demoSOAPSPID)
	if err != nil {
		return err
	}
	sp := demosp.New(demoSOAPSPID, mpayCert, signer)
	sp.Put(demosp.Order{Key: "DEMO-SOAP-1", Reason: "Taxa de stat (serviciu SOAP)", Amount: demoAmount(10000), CustomerName: "Ion Popescu"})
	return mountDemo(ctx, srv, st, base, mpay.SP{ServiceID: demoSOAPSPID, Name: "Serviciu demonstrativ (SOAP)", Face: mpay.FaceSOAP, Cert: cert},
		demoSOAPSPPath, "/soap", sp, sp.SOAPHandler(mpayCert, signer))
}
