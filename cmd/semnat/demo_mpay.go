package main

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// Demo SP of MPay: its page and endpoint on the demo server.
const (
	demoSPID   = "DEMO01"
	demoSPPath = "/demo-mpay"
)

// mountDemoSP mounts a demo service provider (a test service with orders)
// at /demo-mpay/ (its endpoint at /demo-mpay/api) and registers it with MPay
// under a key made at this start. It checks MPay's requests against MPay's
// message certificate; the SOAP SP against mpayCert, MPay's own (RSA).
func mountDemoSP(ctx context.Context, srv *server.Server, st *store.Store, base string, mpayCert *x509.Certificate) error {
	signer, cert, err := demosp.NewKey(demoSPID)
	if err != nil {
		return err
	}
	sp := demosp.New(demoSPID, srv.MPay.MessageCert(), signer)
	due := time.Now().Add(30 * time.Minute)
	sp.Put(demosp.Order{Key: "DEMO-TAXA-1", Reason: "Taxa de stat pentru eliberarea pașaportului", Amount: demoAmount(15000), CustomerName: "Ion Popescu",
		CustomerID: demoMPayPerson})
	sp.Put(demosp.Order{Key: "DEMO-AMENDA-2", Reason: "Amendă contravențională (plata în rate)", Amount: demoAmount(50000), Partial: true, CustomerName: "Ion Popescu"})
	sp.Put(demosp.Order{Key: "DEMO-AVANS-3", Reason: "Avans pentru servicii notariale", Advance: true, Currency: "MDL"})
	sp.Put(demosp.Order{Key: "DEMO-TERMEN-4", Reason: "Taxă cu termen de 30 de minute", Amount: demoAmount(2500), DueDate: &due})
	if err := mountDemo(ctx, srv, st, base, mpay.SP{ServiceID: demoSPID, Name: "Serviciu demonstrativ", Face: mpay.FaceREST, Cert: cert,
		Staff: []string{demoMPayPerson}},
		demoSPPath, "/api", sp, sp.Handler()); err != nil {
		return err
	}
	return mountDemoSOAPSP(ctx, srv, st, base, mpayCert)
}

// mountDemo registers a demo SP with MPay (again at each start: its key is
// new), its endpoint at base+path+endpointPath, and mounts its page and
// endpoint under path.
func mountDemo(ctx context.Context, srv *server.Server, st *store.Store, base string, reg mpay.SP, path, endpointPath string, sp *demosp.SP, endpoint http.Handler) error {
	err := mpay.RemoveService(ctx, st, "demo", reg.ServiceID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	reg.Endpoint = base + path + endpointPath
	if err := mpay.AddService(ctx, st, "demo", reg); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(path+endpointPath+"/", http.StripPrefix(path+endpointPath, endpoint))
	mux.Handle(path+endpointPath, http.StripPrefix(path+endpointPath, endpoint))
	mux.Handle(path+"/", sp.Page(base+mpay.PathPay, base+path+"/"))
	srv.Mount(service.Handler(strings.TrimPrefix(path, "/"), mux, nil, path+"/", path+"/*"))
	return nil
}

func demoAmount(a int64) *int64 { return &a }
